"""Data generation speed: mesh + random inputs + reference FEM solve, per sample, at 1k / 10k / 100k nodes.

Part 1 (sizes): one poisson-dirichlet sample pipeline (BENO square with 4
random corner cut-outs, random f and g, P1 Poisson solve) at mesh sizes giving
about 1k, 10k and 100k nodes, split into mesh time (gmsh + conversion), input
time (evaluating f, g at the nodes) and solve time (scikit-fem assembly +
sparse direct solve). Samples/s = 1 / (mean total time). The "solve s" column
is the reference FEM solve time per sample that the learned models are compared
against.

Part 2 (problems): `Problem.sample` for each registered problem at its default
size (what `graphops generate` does per sample), with its solve time.

Part 3 (end to end): `generate_dataset` (shards written, manifest) at the
default size with 1 and 2 worker processes.

Run: .venv/bin/python benchmarks/data_generation.py [--quick]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_report  # noqa: E402

from graphops.data import generate_dataset, get_problem  # noqa: E402
from graphops.data.fields import random_boundary, random_source  # noqa: E402
from graphops.geometry import cutout_square  # noqa: E402
from graphops.solvers import solve_poisson  # noqa: E402

# mesh size -> about 1k, 10k, 100k nodes on the 4-cut-out square
SIZES = [("~1k", 0.033, 20), ("~10k", 0.0098, 6), ("~100k", 0.0031, 3)]
QUICK_SIZES = [("~1k", 0.033, 3), ("~10k", 0.0098, 1)]


def pipeline(seed: int, h: float) -> dict:
    """One sample's stages, timed."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    mesh = cutout_square(int(rng.integers(2**31 - 1)), h, 4)
    t1 = time.perf_counter()
    x = mesh.points.T
    f = random_source(rng, np.zeros(2), np.ones(2))(x)
    g = random_boundary(rng, np.zeros(2), np.ones(2))(x)
    t2 = time.perf_counter()
    u = solve_poisson(mesh, f=f, g=g)
    t3 = time.perf_counter()
    assert np.all(np.isfinite(u))
    return {"nodes": mesh.num_points, "mesh": t1 - t0, "inputs": t2 - t1, "solve": t3 - t2, "total": t3 - t0}


def time_problem(name: str, repeats: int) -> dict:
    import graphops.solvers as solvers

    problem = get_problem(name)
    solve_times = []
    originals = {k: getattr(solvers, k) for k in ("solve_poisson", "solve_elasticity")}

    def timed(fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            solve_times.append(time.perf_counter() - start)
            return out

        return wrapper

    for key, fn in originals.items():
        setattr(solvers, key, timed(fn))
    try:
        problem.sample(0, 0)  # warm-up (imports, caches)
        solve_times.clear()
        totals, nodes = [], []
        for i in range(repeats):
            start = time.perf_counter()
            s = problem.sample(i, 1000 + i)
            totals.append(time.perf_counter() - start)
            nodes.append(len(s["points"]))
    finally:
        for key, fn in originals.items():
            setattr(solvers, key, fn)
    total = float(np.mean(totals))
    return {"case": f"{name} (default size)", "nodes": int(np.mean(nodes)), "samples": repeats,
            "solve s": float(np.mean(solve_times)), "total s": total, "samples/s": 1.0 / total}


def time_end_to_end(n: int, workers: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="graphops-bench-"))
    try:
        start = time.perf_counter()
        root = generate_dataset("poisson-dirichlet", n, folder / "ds", workers=workers, shard_size=16, progress=False)
        elapsed = time.perf_counter() - start
        import json

        nodes = int(np.mean(json.loads((root / "manifest.json").read_text())["num_nodes"]))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"case": f"generate_dataset poisson-dirichlet, {workers} worker(s)", "nodes": nodes, "samples": n,
            "total s": elapsed / n, "samples/s": n / elapsed}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="few, small samples (smoke run)")
    args = ap.parse_args()
    rows = []
    pipeline(0, 0.05)  # warm-up
    for label, h, repeats in (QUICK_SIZES if args.quick else SIZES):
        runs = [pipeline(100 + i, h) for i in range(repeats)]
        mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        row = {"case": f"poisson P1, {label} nodes (h={h})", "nodes": int(mean["nodes"]), "samples": repeats,
               "mesh s": mean["mesh"], "inputs s": mean["inputs"], "solve s": mean["solve"],
               "total s": mean["total"], "samples/s": 1.0 / mean["total"]}
        rows.append(row)
        print(row, flush=True)
    for name in ("poisson-dirichlet", "poisson-neumann", "poisson-mixed", "elasticity-holes"):
        row = time_problem(name, 3 if args.quick else 20)
        rows.append(row)
        print(row, flush=True)
    for workers in (1, 2):
        row = time_end_to_end(8 if args.quick else 64, workers)
        rows.append(row)
        print(row, flush=True)
    load = os.getloadavg()
    cols = ["case", "nodes", "samples", "mesh s", "inputs s", "solve s", "total s", "samples/s"]
    intro = (
        "Seconds per sample (means) for drawing a geometry, meshing it with gmsh, evaluating random inputs and "
        "solving with the scikit-fem reference solver (P1, sparse direct solve). `solve s` is the FEM solve time per "
        "sample (assembly + solve) that learned models are compared against. Rows 'default size' time "
        "`Problem.sample` (what `graphops generate` does per sample); the last rows time `generate_dataset` end to "
        f"end (shards + manifest, spawn workers included). 1-minute load average at the end: {load[0]:.1f} on "
        f"{os.cpu_count()} cores (above about 1.5, other jobs competed and the times are upper bounds)."
    )
    write_report("data_generation", "Data generation (mesh + FEM solve)", intro, cols, rows,
                 extra={"load_average": list(load)})


if __name__ == "__main__":
    main()
