"""Run gmsh on a user's file in a child process, so that nothing in the file can end the caller.

gmsh runs ``.geo`` scripts and OpenCASCADE imports in C++: a script can call
``Exit;`` (the process ends with status 0), and some inputs make gmsh throw a
C++ exception it does not catch (``std::terminate``, SIGABRT, exit 134). Both
would take the Python process that called gmsh down with them. Here the work
happens in a fresh Python interpreter (``python -m graphops.io.isolated``,
about half a second of start-up); the parent gets the :class:`~graphops.mesh.Mesh`
back through a pipe (its arrays in ``.npz`` form, everything else as JSON:
no pickles), and any way the child ends without one becomes a one-line
:class:`~graphops.errors.MeshError` naming the file.
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..errors import MeshError
from ..mesh import Mesh, PhysicalGroup

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

    The request goes to the child on its stdin (JSON) and the result comes
    back on its stdout (the child sends everything gmsh prints to stderr), so
    nothing is written to disk: a full disk or a file-size limit does not
    stop the read.

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
    request = json.dumps({"target": READERS[reader], "path": str(path), "options": options}).encode()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "graphops.io.isolated"],
            input=request, capture_output=True, env=_child_env(), timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise MeshError(f"gmsh took longer than {timeout:g} s on this file and was stopped", path) from None
    try:
        status, payload = decode_outcome(proc.stdout)
    except Exception:  # nothing, or a result cut short: the child did not finish
        raise MeshError(_describe_exit(proc.returncode, proc.stderr.decode("utf-8", "replace")), path) from None
    if status == "ok":
        return payload
    raise MeshError(payload, path)


def encode_outcome(status: str, payload: Any) -> bytes:
    """``("ok", Mesh)`` or ``("error", message)`` as ``.npz`` bytes: arrays numbered, their roles in JSON."""
    arrays: List[np.ndarray] = []
    roles: List[list] = []

    def add(role: list, values: np.ndarray) -> None:
        roles.append(role)
        arrays.append(np.asarray(values))

    meta: Dict[str, Any] = {"status": status}
    if status == "ok":
        mesh = payload
        meta["source"] = mesh.source
        add(["points"], mesh.points)
        for ctype, conn in mesh.cells.items():
            add(["cells", ctype], conn)
        for name, values in mesh.point_data.items():
            add(["point_data", name], values)
        for name, blocks in mesh.cell_data.items():
            for ctype, values in blocks.items():
                add(["cell_data", name, ctype], values)
        meta["groups"] = [[g.name, g.dim, g.tag] for g in mesh.groups.values()]
        for i, group in enumerate(mesh.groups.values()):
            for ctype, conn in group.cells.items():
                add(["group", i, ctype], conn)
    else:
        meta["message"] = str(payload)
    meta["roles"] = roles
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
             **{f"a{i}": a for i, a in enumerate(arrays)})
    return buffer.getvalue()


def decode_outcome(data: bytes) -> Tuple[str, Any]:
    """Inverse of :func:`encode_outcome` (``np.load`` with ``allow_pickle=False``)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        meta = json.loads(archive["meta"].tobytes().decode())
        arrays = [archive[f"a{i}"] for i in range(len(meta["roles"]))]
    if meta["status"] != "ok":
        return meta["status"], meta["message"]
    points = None
    cells: Dict[str, np.ndarray] = {}
    point_data: Dict[str, np.ndarray] = {}
    cell_data: Dict[str, Dict[str, np.ndarray]] = {}
    group_cells: Dict[int, Dict[str, np.ndarray]] = {}
    for role, values in zip(meta["roles"], arrays):
        if role[0] == "points":
            points = values
        elif role[0] == "cells":
            cells[role[1]] = values
        elif role[0] == "point_data":
            point_data[role[1]] = values
        elif role[0] == "cell_data":
            cell_data.setdefault(role[1], {})[role[2]] = values
        else:
            group_cells.setdefault(role[1], {})[role[2]] = values
    groups = {name: PhysicalGroup(name, dim, tag, group_cells.get(i, {})) for i, (name, dim, tag) in enumerate(meta["groups"])}
    return "ok", Mesh(points, cells, point_data, cell_data, groups, meta["source"])


def _run_request(request: dict) -> tuple:
    """The child's work: run the requested reader; a graphops error travels back as its message."""
    import importlib

    from ..errors import GraphopsError

    module_name, func_name = request["target"].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    try:
        return "ok", func(request["path"], **request["options"])
    except GraphopsError as exc:
        return "error", exc.problem
    except Exception as exc:  # gmsh raises bare Exceptions carrying its log line
        text = str(exc).strip().splitlines()
        return "error", f"gmsh failed on this file ({text[0] if text else type(exc).__name__})"


def main() -> int:
    """Child entry point: ``python -m graphops.io.isolated`` with the JSON request on stdin."""
    request = json.loads(sys.stdin.buffer.read().decode())
    sys.stdout.flush()
    result_fd = os.dup(1)
    os.dup2(2, 1)  # what gmsh and OpenCASCADE print goes to stderr; stdout carries the result only
    outcome = _run_request(request)
    with os.fdopen(result_fd, "wb") as out:
        out.write(encode_outcome(*outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main())
