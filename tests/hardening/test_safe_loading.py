"""Static check: nothing in graphops/ deserialises in a way that can run code from a file.

* every ``torch.load(...)`` passes ``weights_only=True`` (literally);
* every ``np.load(...)`` passes ``allow_pickle=False``;
* no ``pickle.load(s)``, ``yaml.load`` / ``yaml.unsafe_load``, ``torch.jit.load`` or ``dill``.
"""
import ast
from pathlib import Path

from hardening_helpers import STATS

PACKAGE = Path(__file__).resolve().parents[2] / "graphops"


def _calls():
    """(file, line, dotted callee, call node) for every call in the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        aliases = {}  # local name -> module path, from the file's imports
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                parts, f = [], node.func
                while isinstance(f, ast.Attribute):
                    parts.append(f.attr)
                    f = f.value
                if isinstance(f, ast.Name):
                    parts.append(aliases.get(f.id, f.id))
                    yield path.relative_to(PACKAGE.parent), node.lineno, ".".join(reversed(parts)), node


def _keyword(node, name):
    for kw in node.keywords:
        if kw.arg == name:
            return kw.value.value if isinstance(kw.value, ast.Constant) else "<not a literal>"
    return "<missing>"


def test_every_torch_load_is_weights_only():
    loads = [(f, line, _keyword(node, "weights_only")) for f, line, name, node in _calls() if name == "torch.load"]
    STATS["static: torch.load calls checked"] += len(loads)
    assert loads, "expected at least the checkpoint loader"
    bad = [f"{f}:{line} weights_only={value}" for f, line, value in loads if value is not True]
    assert not bad, "torch.load without weights_only=True: " + "; ".join(bad)


def test_every_np_load_refuses_pickles():
    loads = [(f, line, _keyword(node, "allow_pickle")) for f, line, name, node in _calls()
             if name in ("numpy.load", "np.load")]
    STATS["static: np.load calls checked"] += len(loads)
    bad = [f"{f}:{line} allow_pickle={value}" for f, line, value in loads if value is not False]
    assert not bad, "np.load without allow_pickle=False: " + "; ".join(bad)


def test_no_unsafe_deserialisers():
    unsafe = {"pickle.load", "pickle.loads", "pickle.Unpickler", "yaml.load", "yaml.unsafe_load", "yaml.full_load",
              "torch.jit.load", "dill.load", "dill.loads", "marshal.loads", "shelve.open"}
    found = [f"{f}:{line} {name}" for f, line, name, _ in _calls() if name in unsafe]
    assert not found, "unsafe deserialisation: " + "; ".join(found)
