"""Real meshes and CAD parts from public projects, for the real-parts benchmark.

None of these files is in the repository: ``real_parts_sources.json`` (beside
this script) names each one by repository, path and commit, and this module
copies them into the git-ignored cache ``benchmarks/.real_parts/`` from local
snapshots of those repositories (bare git folders, one per repository, named
``OWNER+NAME/repo`` under a mirror folder), then reads them at their native
coordinates.

Usage::

    python benchmarks/real_parts_meshes.py status
    python benchmarks/real_parts_meshes.py populate --mirror /work/.mirror
    python benchmarks/real_parts_meshes.py check            # read every mesh, print one line each

From Python::

    from benchmarks.real_parts_meshes import mesh_path, read_part, sources
    for entry in sources():
        mesh = read_part(entry["name"])

A snapshot folder is any bare clone: ``git clone --bare https://github.com/OWNER/NAME
MIRROR/OWNER+NAME/repo`` makes one.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "real_parts_sources.json"
CACHE = HERE / ".real_parts"


class RealPartsMissing(RuntimeError):
    """A real-parts file is not in the cache (the message says how to get it)."""


def sources() -> List[Dict[str, Any]]:
    """The entries of ``real_parts_sources.json``, one per mesh."""
    return json.loads(SOURCES.read_text())["meshes"]


def entry(name: str) -> Dict[str, Any]:
    """The entry of one mesh by name."""
    for item in sources():
        if item["name"] == name:
            return item
    known = ", ".join(e["name"] for e in sources())
    raise KeyError(f"no real part named {name!r} (known: {known})")


def _cached(repo: str, path: str, cache: Path) -> Path:
    return cache / repo.replace("/", "+") / path


def mesh_path(name: str, cache: Path = CACHE) -> Path:
    """Path of a mesh (and of the files it needs, beside it) in the cache.

    Raises
    ------
    RealPartsMissing
        When the file or one it needs is not there, with the command that fetches it.
    """
    item = entry(name)
    missing = [p for p in [item["path"], *item.get("needs", [])] if not _cached(item["repo"], p, cache).exists()]
    if missing:
        raise RealPartsMissing(
            f"real part {name!r} ({item['repo']}:{missing[0]}) is not in {cache}; run "
            f"'python benchmarks/real_parts_meshes.py populate --mirror MIRROR' with a snapshot of "
            f"github.com/{item['repo']} at MIRROR/{item['repo'].replace('/', '+')}/repo (a bare git clone) "
            f"holding commit {item['commit'][:12]}"
        )
    return _cached(item["repo"], item["path"], cache)


def read_part(name: str, cache: Path = CACHE, **options: Any):
    """:func:`graphops.io.read_mesh` of a cached mesh with the entry's read options (e.g. ``mesh_size``)."""
    from graphops.io import read_mesh

    return read_mesh(mesh_path(name, cache), **{**entry(name).get("read_options", {}), **options})


def populate(mirror: Path, cache: Path = CACHE, names: Optional[List[str]] = None) -> List[str]:
    """Copy every source file (and the files it needs) from the mirror's git snapshots into the cache.

    Returns
    -------
    list of str
        One line per file: written, already there, or why it could not be.
    """
    report = []
    for item in sources():
        if names and item["name"] not in names:
            continue
        git_dir = mirror / item["repo"].replace("/", "+") / "repo"
        for path in [item["path"], *item.get("needs", [])]:
            target = _cached(item["repo"], path, cache)
            if target.exists():
                report.append(f"{item['name']}: {path} already cached")
                continue
            if not git_dir.is_dir():
                report.append(f"{item['name']}: no snapshot of {item['repo']} at {git_dir}")
                break
            proc = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{item['commit']}:{path}"], capture_output=True)
            if proc.returncode != 0:
                report.append(f"{item['name']}: {path} not at {item['commit'][:12]} in {git_dir} ({proc.stderr.decode().strip()[:120]})")
                break
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            partial.write_bytes(proc.stdout)
            partial.replace(target)
            report.append(f"{item['name']}: wrote {target.relative_to(cache)} ({len(proc.stdout)} bytes)")
    return report


def check(cache: Path = CACHE, names: Optional[List[str]] = None) -> List[Dict[str, Any]]:
    """Run ``graphops info`` on every cached mesh in a subprocess; a crash or a traceback is a failure.

    Returns
    -------
    list of dict
        ``name``, ``status`` (``"ok"``, ``"error"`` for a clean graphops error,
        ``"CRASH"`` otherwise), ``seconds`` and the first lines of the output.
    """
    rows = []
    for item in sources():
        if names and item["name"] not in names:
            continue
        try:
            path = mesh_path(item["name"], cache)
        except RealPartsMissing as exc:
            rows.append({"name": item["name"], "status": "missing", "seconds": 0.0, "output": str(exc)})
            continue
        command = [sys.executable, "-m", "graphops", "info", str(path)]
        if "mesh_size" in item.get("read_options", {}):
            command += ["--mesh-size", str(item["read_options"]["mesh_size"])]
        start = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        text = (proc.stdout + proc.stderr).strip()
        if proc.returncode == 0:
            status = "ok"
        elif proc.returncode == 2 and proc.stderr.startswith("graphops: error:") and "Traceback" not in text:
            status = "error"
        else:
            status = "CRASH"
        rows.append({"name": item["name"], "status": status, "returncode": proc.returncode, "seconds": round(seconds, 2), "output": text})
    return rows


def _summary(text: str) -> str:
    keep = ("kind:", "points:", "cells:", "bounding box:", "graphops: error:")
    return " | ".join(line.strip() for line in text.splitlines() if line.strip().startswith(keep))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="which meshes are in the cache")
    pop = sub.add_parser("populate", help="copy the meshes from local git snapshots into the cache")
    pop.add_argument("--mirror", required=True, type=Path, help="folder holding OWNER+NAME/repo bare git snapshots")
    pop.add_argument("names", nargs="*", help="only these meshes")
    chk = sub.add_parser("check", help="graphops info on every cached mesh (no crash, no traceback)")
    chk.add_argument("names", nargs="*", help="only these meshes")
    args = parser.parse_args(argv)
    if args.command == "status":
        for item in sources():
            try:
                where = str(mesh_path(item["name"]))
            except RealPartsMissing:
                where = "MISSING"
            print(f"{item['name']:24s} {item['format']:6s} {where}")
        return 0
    if args.command == "populate":
        print("\n".join(populate(args.mirror, names=args.names or None)))
        return 0
    rows = check(names=args.names or None)
    for row in rows:
        print(f"{row['name']:24s} {row['status']:7s} {row['seconds']:7.1f} s  {_summary(row['output']) or row['output'][:200]}")
    return 1 if any(r["status"] == "CRASH" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
