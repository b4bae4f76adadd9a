"""Run gmsh on a user's file in a child process, so that nothing in the file can end the caller.

gmsh runs ``.geo`` scripts and OpenCASCADE imports in C++: a script can call
``Exit;`` (the process ends with status 0), and some inputs make gmsh throw a
C++ exception it does not catch (``std::terminate``, SIGABRT, exit 134). Both
would take the Python process that called gmsh down with them. Here the work
happens in a fresh Python interpreter (``python -m graphops.io.isolated``,
about half a second of start-up); the parent gets the :class:`~graphops.mesh.Mesh`
back through a pickle in a private temporary folder, and any way the child
ends without one becomes a one-line :class:`~graphops.errors.MeshError`
naming the file.
"""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional

from ..errors import MeshError
from ..mesh import Mesh

#: What the child can be asked to do: reader name -> "module:function" taking (path, **options) -> Mesh.
READERS = {
    "geo": "graphops.gmsh_model:read_gmsh_file",
    "cad": "graphops.io.cad:mesh_cad_file",
}


def _package_root() -> str:
    """The folder that holds the ``graphops`` package (put first on the child's path)."""
    return str(Path(__file__).resolve().parents[2])


def _child_env() -> Dict[str, str]:
    env = dict(os.environ)
    root = _package_root()
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _crash_detail(stderr: str) -> str:
    """The most telling line of a crashed child's stderr (the C++ exception's ``what()``)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("what():"):
            return line[len("what():"):].strip()
    for line in reversed(lines):
        if "Error" in line or "error" in line:
            return line
    return lines[-1] if lines else ""


def _describe_exit(returncode: int, stderr: str) -> str:
    detail = _crash_detail(stderr)
    detail = "".join(ch if ch.isprintable() else "?" for ch in detail)[:200]
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"gmsh crashed on this file ({name}{': ' + detail if detail else ''})"
    if returncode == 134:  # abort reported as an exit status by a shell wrapper
        return f"gmsh crashed on this file (SIGABRT{': ' + detail if detail else ''})"
    why = f": {detail}" if detail else " (does the .geo script call Exit?)"
    return f"gmsh ended without a mesh, exit status {returncode}{why}"


def read_in_child(path: str, reader: str, timeout: Optional[float] = None, **options: Any) -> Mesh:
    """Read ``path`` with one of :data:`READERS` in a child Python process.

    Parameters
    ----------
    path : str
        The file (already checked to exist and be non-empty).
    reader : str
        ``"geo"`` (gmsh ``.geo`` script, meshed) or ``"cad"`` (STEP/IGES/BREP, meshed).
    timeout : float, optional
        Seconds after which the child is stopped and a :class:`MeshError` raised.
    **options
        Keyword arguments of the reader function (``dim``, ``mesh_size``).

    Returns
    -------
    Mesh

    Raises
    ------
    MeshError
        The reader's own error, or a one-line account of how the child ended
        (crash, ``Exit``, timeout) when it produced no mesh.
    """
    if reader not in READERS:
        raise ValueError(f"unknown isolated reader {reader!r}")
    with tempfile.TemporaryDirectory(prefix="graphops-gmsh-") as tmp:
        request = Path(tmp) / "request.pkl"
        result = Path(tmp) / "result.pkl"
        with open(request, "wb") as handle:
            pickle.dump({"target": READERS[reader], "path": str(path), "options": options}, handle)
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "graphops.io.isolated", str(request), str(result)],
                stdin=subprocess.DEVNULL, capture_output=True, env=_child_env(), timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise MeshError(f"gmsh took longer than {timeout:g} s on this file and was stopped", path) from None
        if not result.exists():
            raise MeshError(_describe_exit(proc.returncode, proc.stderr.decode("utf-8", "replace")), path)
        with open(result, "rb") as handle:
            status, payload = pickle.load(handle)
    if status == "ok":
        return payload
    raise MeshError(payload, path)


def _run_request(request_path: str) -> tuple:
    """The child's work: run the requested reader; a graphops error travels back as its message."""
    import importlib

    from ..errors import GraphopsError

    with open(request_path, "rb") as handle:
        request = pickle.load(handle)
    module_name, func_name = request["target"].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    try:
        return "ok", func(request["path"], **request["options"])
    except GraphopsError as exc:
        return "error", exc.problem
    except Exception as exc:  # gmsh raises bare Exceptions carrying its log line
        text = str(exc).strip().splitlines()
        return "error", f"gmsh failed on this file ({text[0] if text else type(exc).__name__})"


def main(argv: Optional[list] = None) -> int:
    """Child entry point: ``python -m graphops.io.isolated REQUEST RESULT``."""
    request_path, result_path = (argv if argv is not None else sys.argv[1:])[:2]
    outcome = _run_request(request_path)
    partial = result_path + ".part"
    with open(partial, "wb") as handle:
        pickle.dump(outcome, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, result_path)  # the parent sees a complete result or none
    return 0


if __name__ == "__main__":
    sys.exit(main())
