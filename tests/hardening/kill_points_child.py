"""Kill a graphops CLI command at every file-writing point, then re-run it; report JSON.

Started by ``test_kill_commands.py`` as ``python kill_points_child.py SPEC.json``. SPEC holds
``argv`` (the command line, with ``{out}`` where the output folder goes) and ``root`` (a
folder for the runs). The process imports graphops once, then forks one child per kill
point, so each point costs only the command's own run time:

* ``open`` point *n*: the child SIGKILLs itself just after it opens the *n*-th file for
  writing below the output folder (a writer that writes the final file directly leaves
  it empty or partial there);
* ``replace`` point *n*: it SIGKILLs itself just before the *n*-th ``os.replace`` into the
  output folder (the temporary file is complete, the final name not yet there).

Points are tried n = 1, 2, ... until the command finishes without reaching the point;
that run is the uninterrupted reference. After each kill the folder is copied to
``<folder>-killed`` (what a user finds after the crash) and the command is re-run in
the original folder. Output: one JSON object per line: ``mode``, ``n``, ``folder``,
``killed``, ``code`` (exit status of the run, or of the re-run after a kill).
"""
from __future__ import annotations

import builtins
import io
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import torch

from graphops.cli import main

torch.set_num_threads(1)

# import what the commands import lazily once, here, instead of once per forked run
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot  # noqa: E402,F401
import graphops.decomposition  # noqa: E402,F401
import graphops.io  # noqa: E402,F401
import graphops.predict  # noqa: E402,F401
import graphops.train  # noqa: E402,F401
import graphops.viz.decomposition  # noqa: E402,F401


def _under(path, folder: Path) -> bool:
    try:
        return Path(os.fspath(path)).resolve().is_relative_to(folder)
    except (TypeError, ValueError, OSError):
        return False


def _install(mode: str, n: int, folder: Path) -> None:
    count = 0

    def hit() -> None:
        nonlocal count
        count += 1
        if count == n:
            os.kill(os.getpid(), signal.SIGKILL)

    if mode == "replace":
        real_replace = os.replace

        def replace(src, dst, *args, **kwargs):
            if _under(dst, folder):
                hit()
            return real_replace(src, dst, *args, **kwargs)

        os.replace = replace
    else:
        real_open = builtins.open

        def open_(file, mode="r", *args, **kwargs):
            handle = real_open(file, mode, *args, **kwargs)
            if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+") and _under(file, folder):
                hit()
            return handle

        builtins.open = open_
        io.open = open_


def _run(argv, folder: Path, mode=None, n=0) -> "tuple[bool, int]":
    """Fork, run the command (with the kill point when ``mode``), return (killed, exit code)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            if mode:
                _install(mode, n, folder.resolve())
            with open(os.devnull, "w") as sink:
                sys.stdout = sink
                code = main([a.replace("{out}", str(folder)) for a in argv])
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return os.WTERMSIG(status) == signal.SIGKILL, -os.WTERMSIG(status)
    return False, os.WEXITSTATUS(status)


def main_child(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    root = Path(spec["root"])
    for mode in ("open", "replace"):
        for n in range(1, 50):
            folder = root / f"{mode}-{n}"
            folder.mkdir(parents=True)
            killed, code = _run(spec["argv"], folder, mode, n)
            if killed:
                shutil.copytree(folder, root / f"{mode}-{n}-killed")
                _, code = _run(spec["argv"], folder)
            print(json.dumps({"mode": mode, "n": n, "folder": str(folder), "killed": killed, "code": code}), flush=True)
            if not killed:
                break


if __name__ == "__main__":
    main_child(sys.argv[1])
