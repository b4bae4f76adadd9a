"""Many right-hand sides on one mesh: ``graphops.predict`` with a list of queries vs one call per query.

Both go through the public API a user calls (``graphops.predict``, no files
written): the loop calls it once per query (each call reads the checkpoint,
builds the graph and, for BENO, the attention context, and with
``compare_fem`` assembles and factorises the FEM system); the batched call
passes every query at once (checkpoint, framing, graph and context once, the
model on batches of queries through :class:`graphops.inference.InferenceSession`,
one FEM factorisation through :class:`graphops.solvers.PoissonSystem`). The
queries are random smooth sources and boundary values written as formulas.
Times are CPU seconds of the process (``time.process_time``; torch on
``--threads`` threads), so a busy shared machine inflates them less than
wall time; the wall times are in the JSON.

Run: .venv/bin/python benchmarks/predict_queries.py --checkpoint CKPT [--queries 32] [--mesh-size 0.011]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, write_report  # noqa: E402

DEFAULT_CHECKPOINT = ROOT / "benchmarks" / ".runs" / "real_parts_demo" / "beno" / "best.pt"


def formulas(count: int, seed: int):
    """``count`` (source, boundary) formula pairs: low-frequency sines with random coefficients."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(count):
        a, b, c, d = rng.uniform(-2, 2, 4)
        kx, ky = rng.integers(1, 4, 2)
        pairs.append((f"{a:.3f}*sin({kx}*pi*x)*cos({ky}*pi*y) + {b:.3f}",
                      f"{c:.3f}*x*y + {d:.3f}*sin(pi*(x + y))"))
    return pairs


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main(argv=None) -> int:
    from graphops.geometry import cutout_square
    from graphops.predict import predict

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="a 2D Poisson (Dirichlet) checkpoint")
    ap.add_argument("--queries", type=int, default=32)
    ap.add_argument("--mesh-size", type=float, default=0.011, help="element size on the unit square (0.011: ~10k nodes)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="4 queries on a ~1k-node mesh (smoke run)")
    args = ap.parse_args(argv)
    if args.quick:
        args.queries, args.mesh_size = 4, 0.04
    torch.set_num_threads(args.threads)
    mesh = cutout_square(7, args.mesh_size, 2)
    pairs = formulas(args.queries, seed=1)
    sources, boundaries = [s for s, _ in pairs], [b for _, b in pairs]
    rows = []
    for compare in (False, True):
        predict(args.checkpoint, mesh, source=sources[0], boundary=boundaries[0], png=False)  # warm-up
        looped, loop_wall, loop_cpu = timed(lambda: [predict(args.checkpoint, mesh, source=s, boundary=b, png=False,
                                                             compare_fem=compare) for s, b in pairs])
        batched, batch_wall, batch_cpu = timed(lambda: predict(args.checkpoint, mesh, source=sources,
                                                               boundary=boundaries, png=False, compare_fem=compare))
        diff = max(float(np.abs(a.prediction - b.prediction).max()) for a, b in zip(looped, batched))
        scale = max(float(np.abs(a.prediction).max()) for a in looped)
        row = {
            "mode": "model + --compare-fem" if compare else "model only",
            "nodes": mesh.num_points, "queries": args.queries,
            "looped CPU s/query": loop_cpu / args.queries, "batched CPU s/query": batch_cpu / args.queries,
            "speedup (CPU)": loop_cpu / batch_cpu,
            "looped wall s/query": loop_wall / args.queries, "batched wall s/query": batch_wall / args.queries,
            "model wall s/query looped": float(np.mean([r.seconds for r in looped])),
            "model wall s/query batched": float(np.mean([r.seconds for r in batched])),
            "max diff / max u": diff / scale,
        }
        if compare:
            row["FEM wall s/query looped"] = float(np.mean([r.fem_seconds for r in looped]))
            row["FEM wall s/query batched"] = float(np.mean([r.fem_seconds for r in batched]))
            row["rel L2 vs FEM"] = float(np.mean([r.relative_l2 for r in batched]))
        rows.append(row)
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    columns = ["mode", "nodes", "queries", "looped CPU s/query", "batched CPU s/query", "speedup (CPU)",
               "model wall s/query looped", "model wall s/query batched", "FEM wall s/query looped",
               "FEM wall s/query batched", "rel L2 vs FEM", "max diff / max u"]
    load = os.getloadavg()[0]
    intro = (
        "Both sides call the public `graphops.predict` (no files written). **Looped**: one call per query; each "
        "reads the checkpoint, checks and frames the mesh, builds the graph and (BENO) the attention context, and "
        "with `--compare-fem` assembles and factorises the FEM system. **Batched**: one call with lists of "
        f"{args.queries} sources and boundary values; all of that once, the model on batches of queries "
        "(`InferenceSession`), one FEM factorisation (`PoissonSystem`). Queries: random smooth formulas. "
        f"Checkpoint: `{args.checkpoint}`; mesh: the unit square with 2 corner cut-outs, element size "
        f"{args.mesh_size}; torch threads: {args.threads}. `CPU s/query`: process CPU time of the whole loop or call "
        "divided by the queries. `model wall s/query` is `Prediction.seconds` (the forward passes; batched: a "
        "batch's time shared by its queries) and `FEM wall s/query` is `Prediction.fem_seconds`: wall times, "
        f"inflated by the machine's load (load average {load:.1f} on {os.cpu_count()} cores when the run ended). "
        "`max diff / max u`: the largest difference between looped and batched predictions, relative to the "
        "largest value.")
    if not args.quick:
        write_report("predict_queries", "Many right-hand sides on one mesh: batched vs looped predict", intro, columns,
                     rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
