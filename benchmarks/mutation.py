"""Mutation check of the numerics modules with mutmut: how many seeded bugs the tests miss.

mutmut (https://github.com/boxed/mutmut) rewrites each function of a module into many
small variants ("mutants": ``+`` -> ``-``, ``<`` -> ``<=``, a constant changed, a call
argument dropped...) and runs the tests that reach that function against every variant.
A mutant that no test fails "survives": either the tests have a hole there, or the
change makes no observable difference (an equivalent mutant).

Every target runs in its own scratch copy of the working tree (the checkout itself is
never modified) and only against its own fast test files, so the whole run takes
minutes, not hours. Survivors are listed by name in the JSON; ``--show NAME`` prints the
diff of one of them (run it inside the scratch folder printed at the end).

Writes ``benchmarks/results/mutation.json`` and the table in
``docs/benchmarks/mutation.md``.

Run: ``make mutate`` (or ``.venv/bin/python benchmarks/mutation.py [--only NAME] [--jobs 2]``).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DOCS, RESULTS, ROOT, machine  # noqa: E402

# name -> (modules to mutate, the fast test files that exercise them)
TARGETS: Dict[str, tuple] = {
    "metrics": (["graphops/train/metrics.py"], ["tests/train/test_metrics.py"]),
    "normaliser": (["graphops/train/normalize.py"], ["tests/train/test_normalize.py", "tests/train/test_normalize_values.py"]),
    "boundary": (["graphops/boundary.py"], ["tests/test_boundary.py", "tests/test_boundary_oracles.py"]),
    "decomposition": (["graphops/decomposition/kdtree.py"], ["tests/decomposition/test_kdtree.py"]),
    "elasticity": (["graphops/solvers/elasticity.py"], ["tests/solvers/test_elasticity.py"]),
    "poisson": (["graphops/solvers/poisson.py"], ["tests/solvers/test_poisson.py"]),
    "model heads": (["graphops/models/layers.py"], ["tests/models/test_meshgraphnet.py", "tests/models/test_permutation.py"]),
}

# Mutants judged harmless after reading their diff: name -> reason. They still count as
# survivors in the JSON (nothing is hidden), but are reported as explained.
_EMPTY = "only differs for a prediction with no nodes, which already fails earlier (reshape of an empty tensor)"
_SCATTER = "torch_geometric's scatter infers the same size (largest graph index + 1) and dim -1 is dim 0 of a 1D tensor"
EXPLAINED: Dict[str, str] = {
    "graphops.train.metrics.x_mae_per_graph__mutmut_29": _SCATTER,
    "graphops.train.metrics.x_mae_per_graph__mutmut_31": _EMPTY,
    "graphops.train.metrics.x_mae_per_graph__mutmut_35": _EMPTY,
    "graphops.train.metrics.x_mae_per_graph__mutmut_39": _SCATTER,
    "graphops.train.metrics.x_mae_per_graph__mutmut_43": _SCATTER,
    "graphops.train.metrics.x_mae_per_graph__mutmut_44": _SCATTER,
    "graphops.train.metrics.xǁMetricAccumulatorǁadd__mutmut_19":
        "list() of a tensor gives 0-d tensors, and int() of those is the same as int() of tolist()'s numbers",
    "graphops.train.normalize.xǁFieldNormalizerǁfit__mutmut_26":
        "reshape(N, -1) of an (N,) field is the same (N, 1) column as reshape(-1, 1)",
    "graphops.train.normalize.xǁFieldNormalizerǁfit__mutmut_34":
        "reshape(N, -1) of an (N,) field is the same (N, 1) column as reshape(-1, 1)",
    "graphops.train.normalize.xǁFieldNormalizerǁfit__mutmut_88":
        "> vs >= 1e-12 differs only for an RMS of exactly 1e-12",
    "graphops.train.normalize.xǁFieldNormalizerǁ_scale_for__mutmut_3":
        "the stored scale is float32; dividing a float64 field by it promotes it exactly, the same numbers",
    "graphops.train.normalize.xǁFieldNormalizerǁ_scale_for__mutmut_5":
        "the stored scale is float32; dividing a float64 field by it promotes it exactly, the same numbers",
    "graphops.train.normalize.xǁFieldNormalizerǁ_scale_for__mutmut_7":
        "a (1,) scale broadcasts over an (N,) field exactly like the 0-d scale",
    "graphops.train.normalize.xǁFieldNormalizerǁ_scale_for__mutmut_8":
        "a (1,) scale broadcasts over an (N,) field exactly like the 0-d scale",
}


def _diff(work: Path, env: Dict[str, str], name: str) -> List[str]:
    """The changed lines (``-`` original, ``+`` mutant) of one mutant.

    Read from mutmut's rewritten module (``mutants/<module>.py`` holds every mutant as a
    function ``<name>__mutmut_<n>`` beside the original ``<name>__mutmut_orig``): much
    faster than ``mutmut show``, which starts a Python per mutant.
    """
    import ast
    import difflib

    module, _, func = name.rpartition(".")
    path = work / "mutants" / (module.replace(".", "/") + ".py")
    if not path.exists():
        return []
    text, functions = _parsed(str(path))
    wanted = {func, func.rsplit("__mutmut_", 1)[0] + "__mutmut_orig"}
    found = {k: functions[k] for k in wanted if k in functions}
    if len(found) != 2:
        return []
    orig = found[func.rsplit("__mutmut_", 1)[0] + "__mutmut_orig"]
    lines = lambda n: (ast.get_source_segment(text, n) or "").splitlines()  # noqa: E731
    a, b = lines(orig), lines(found[func])
    base = func.rsplit("__mutmut_", 1)[0]
    head_a, head_b = a[0].replace(base + "__mutmut_orig", base), b[0].replace(func, base)
    diff = [line for line in difflib.ndiff([head_a] + a[1:], [head_b] + b[1:]) if line.startswith(("- ", "+ "))]
    return [line for line in diff if line[2:].strip()]


@functools.lru_cache(maxsize=8)
def _parsed(path: str):
    """A mutated module's text and its functions by name (parsed once per module)."""
    import ast

    text = Path(path).read_text()
    functions = {n.name: n for n in ast.walk(ast.parse(text)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return text, functions


def _code_tokens(line: str) -> List[str]:
    """The tokens of a line of code with every string literal replaced by a placeholder."""
    import io
    import tokenize

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return [line]
    return ["<str>" if t.type == tokenize.STRING else t.string for t in tokens if t.type not in (tokenize.NL, tokenize.NEWLINE)]


def _without_device(line: str) -> str:
    line = re.sub(r"device=[^,)]*", "", line)
    line = re.sub(r",\s*,", ",", re.sub(r"\(\s*,", "(", re.sub(r",\s*\)", ")", line)))
    return line.replace(" ", "")


def classify(diff: List[str]) -> str | None:
    """A reason a survivor is harmless, for the kinds of change that are harmless by construction."""
    old = [line[2:] for line in diff if line.startswith("- ")]
    new = [line[2:] for line in diff if line.startswith("+ ")]
    if not old or len(old) != len(new):
        return None
    if all(_code_tokens(a) == _code_tokens(b) for a, b in zip(old, new)):
        return ("text of a message or label only (tests match error messages by their key words, "
                "not letter for letter)")
    if all(_without_device(a) == _without_device(b) for a, b in zip(old, new)):
        return "device placement only: differs on a GPU, and the tests run on CPU"
    return None


def _scratch_copy(dest: Path) -> None:
    """Copy the tracked and untracked-but-not-ignored files of the checkout into ``dest``."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _write_config(dest: Path, modules: List[str], tests: List[str]) -> None:
    lines = [
        "",
        "[tool.mutmut]",
        'source_paths = ["graphops"]',
        f"only_mutate = {json.dumps(modules)}",
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x"]',
        "mutate_only_covered_lines = true",
        "use_git_change_detection = false",
        "timeout_multiplier = 5.0",
        "timeout_constant = 10.0",
    ]
    with open(dest / "pyproject.toml", "a") as fh:
        fh.write("\n".join(lines) + "\n")


def _results(dest: Path) -> Dict[str, str]:
    """``{mutant name: status}`` read back from mutmut's ``.meta`` files."""
    from mutmut.stats import status_by_exit_code  # type: ignore[import-not-found]

    status: Dict[str, str] = {}
    for meta in (dest / "mutants").rglob("*.meta"):
        data = json.loads(meta.read_text())
        for name, code in data.get("exit_code_by_key", {}).items():
            status[name] = status_by_exit_code[code] if code is not None else "not checked"
    return status


def run_target(name: str, modules: List[str], tests: List[str], jobs: int, keep: Path | None) -> Dict:
    work = Path(tempfile.mkdtemp(prefix=f"graphops-mutation-{name.replace(' ', '_')}-", dir=keep))
    _scratch_copy(work)
    _write_config(work, modules, tests)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # mutmut imports from its mutants/ copy
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)],
        cwd=work, env=env, capture_output=True, text=True,
    )
    seconds = time.perf_counter() - start
    status = _results(work)
    counts: Dict[str, int] = {}
    for s in status.values():
        counts[s] = counts.get(s, 0) + 1
    survivors = sorted(k for k, s in status.items() if s == "survived")
    row = {
        "target": name,
        "modules": modules,
        "tests": tests,
        "mutants": len(status),
        "killed": counts.get("killed", 0),
        "survived": len(survivors),
        "timeout": counts.get("timeout", 0),
        "other": len(status) - counts.get("killed", 0) - len(survivors) - counts.get("timeout", 0),
        "seconds": round(seconds, 1),
        "survivors": [{"name": k, "diff": _diff(work, env, k)} for k in survivors],
        "scratch": str(work),
        "returncode": proc.returncode,
    }
    row["explained"] = sum(1 for sv in row["survivors"] if EXPLAINED.get(sv["name"]) or classify(sv["diff"]))
    if proc.returncode != 0 and not status:
        row["error"] = (proc.stdout + proc.stderr)[-2000:]
    return row


def recollect(row: Dict) -> Dict:
    """Re-read a finished target's results and survivor diffs from its scratch folder (no re-run)."""
    work = Path(row["scratch"])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    status = _results(work)
    survivors = sorted(k for k, s in status.items() if s == "survived")
    counts: Dict[str, int] = {}
    for s in status.values():
        counts[s] = counts.get(s, 0) + 1
    row.update(mutants=len(status), killed=counts.get("killed", 0), survived=len(survivors),
               timeout=counts.get("timeout", 0),
               other=len(status) - counts.get("killed", 0) - len(survivors) - counts.get("timeout", 0),
               survivors=[{"name": k, "diff": _diff(work, env, k)} for k in survivors])
    return row


def write(rows: List[Dict]) -> None:
    """Write the JSON and the docs table; targets not run this time keep their previous row."""
    path = RESULTS / "mutation.json"
    if path.exists():
        fresh = {r["target"] for r in rows}
        previous = [r for r in json.loads(path.read_text()).get("rows", []) if r["target"] not in fresh]
        rows = sorted(previous + rows, key=lambda r: list(TARGETS).index(r["target"]) if r["target"] in TARGETS else 99)
    for r in rows:  # re-apply the current explanations to kept rows too
        for s in r["survivors"]:
            s["reason"] = EXPLAINED.get(s["name"]) or classify(s.get("diff", []))
        r["explained"] = sum(1 for s in r["survivors"] if s["reason"])
    total = {k: sum(r[k] for r in rows) for k in ("mutants", "killed", "survived", "timeout", "explained")}
    payload = {"benchmark": "mutation", "tool": f"mutmut {_mutmut_version()}", "machine": machine(), "total": total, "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mutation.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        "| target | modules | tests | mutants | killed | survived | of which explained | timeout | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['target']}{' (' + r['note'] + ')' if r.get('note') else ''} | {', '.join(f'`{m}`' for m in r['modules'])} | {', '.join(f'`{t}`' for t in r['tests'])} "
            f"| {r['mutants']} | {r['killed']} | {r['survived']} | {r['explained']} | {r['timeout']} | {r['seconds']:.0f} |"
        )
    lines.append(
        f"| **all** | | | {total['mutants']} | {total['killed']} | {total['survived']} | {total['explained']} | {total['timeout']} | |"
    )
    lines += ["", f"Measured {payload['machine']['date']} with {payload['tool']}, Python {payload['machine']['python']}, "
              f"{payload['machine']['cpu_count']} CPU cores.", "", "### Survivors", "",
              "| target | mutant | change | why it survives |", "|---|---|---|---|"]
    for r in rows:
        for sv in r["survivors"]:
            change = " → ".join(f"`{line[2:].strip()}`" for line in sv.get("diff", [])[:2]).replace("|", "\\|")
            lines.append(f"| {r['target']} | `{sv['name'].split('.')[-1]}` | {change} | "
                         f"{sv['reason'] or 'not explained yet: a hole in the tests'} |")
    page = DOCS / "mutation.md"
    text = page.read_text() if page.exists() else "<!-- mutation-table -->\n<!-- /mutation-table -->\n"
    head, _, rest = text.partition("<!-- mutation-table -->")
    _, _, tail = rest.partition("<!-- /mutation-table -->")
    page.write_text(head + "<!-- mutation-table -->\n" + "\n".join(lines) + "\n<!-- /mutation-table -->" + tail)


def _mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(TARGETS), help="run only these targets (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested in parallel (default 2)")
    parser.add_argument("--keep", type=Path, default=None, help="folder for the scratch copies (default: the system temp)")
    parser.add_argument("--recollect", action="store_true",
                        help="re-read the results of the last run from its scratch folders (no new run)")
    args = parser.parse_args(argv)
    if args.recollect:
        previous = json.loads((RESULTS / "mutation.json").read_text())["rows"]
        write([recollect(r) for r in previous if Path(r["scratch"]).is_dir() and (not args.only or r["target"] in args.only)])
        return
    rows = []
    for name in args.only or TARGETS:
        modules, tests = TARGETS[name]
        row = run_target(name, modules, tests, args.jobs, args.keep)
        print(f"{name}: {row['mutants']} mutants, {row['killed']} killed, {row['survived']} survived "
              f"({row['explained']} explained), {row['timeout']} timeout, {row['seconds']:.0f} s  [{row['scratch']}]", flush=True)
        if "error" in row:
            print(row["error"], file=sys.stderr)
        rows.append(row)
    write(rows)


if __name__ == "__main__":
    main()
