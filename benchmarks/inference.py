"""Inference speed: a trained BENO (InferenceSession) vs the fastest reference solve, side by side.

For each mesh size (2D: the unit square with 2 random corner cut-outs; 3D:
the unit box with 2 vertical through-holes), in one process:

1. mesh it (not timed) and build the model's graph and geometry context
   (:class:`graphops.inference.InferenceSession`; timed as ``graph s``), on two
   paths: ``native`` (the model on the mesh's own graph; meshes up to
   ``--native-max`` nodes) and ``training-res`` (the model on a coarse graph of
   the part at the checkpoint's training element size, interpolated to every mesh
   node, :mod:`graphops.graph.coarsen`; what ``graphops predict --resolution
   training`` does; the coarsening is part of ``graph s``);
2. draw ``--queries`` random Dirichlet problems (f and g from
   :mod:`graphops.data.fields`, the training distributions);
3. time, interleaved round by round (``--rounds``, median reported): the
   reference solve of one query, each path on one query, and each path on a
   batch of queries (per-query time = batch time / queries);
4. report each path's relative L2 error against the reference solutions and
   the peak resident-memory increase of each side.

Reference solvers (the fastest of what the library offers is used for the
ratios): ``direct``, :func:`graphops.solvers.solve_poisson` (scikit-fem P1
assembly + sparse direct SuperLU in 2D; Jacobi-preconditioned CG in 3D above
5000 unknowns) and ``amg``, the same assembly with the linear solve replaced by
pyamg smoothed aggregation as a CG preconditioner (relative residual 1e-10;
needs ``pip install pyamg``, the ``fast`` extra).

Run: .venv/bin/python benchmarks/inference.py [--quick] [--sizes-2d 1000,10000,100000,1000000] [--sizes-3d 10000,100000,500000]
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, write_report  # noqa: E402

from graphops.utils.atomic import atomic_write  # noqa: E402

RUNS = ROOT / "benchmarks" / ".runs"
#: One JSON row per (dimension, target size), so that a long run can be split and resumed (--resume).
CACHE = RUNS / "inference"
#: Target node counts -> mesh size, fitted on the generators (2D: N ~ 1.2 / h^2; 3D box with 2 holes: see mesh_for).
SIZES_2D = (1_000, 10_000, 100_000, 120_000, 1_000_000)  # 100_000 gives 88k nodes, 120_000 106k
SIZES_3D = (10_000, 100_000, 500_000)


def _say(message: str) -> None:
    print(f"[inference-bench] {message}", flush=True)


# ------------------------------------------------------------------ memory
def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_increase(fn: Callable[[], Any]) -> Tuple[Any, float]:
    """Run ``fn``; return its result and the peak resident-memory increase over the call (MiB), sampled every 2 ms."""
    base = _rss_bytes()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        out = fn()
    finally:
        done.set()
        thread.join()
    peak[0] = max(peak[0], _rss_bytes())
    return out, (peak[0] - base) / 2**20


def timed(fn: Callable[[], Any]) -> Tuple[Any, float, float]:
    """Run ``fn``; return its result, wall seconds and CPU seconds of the calling thread.

    Model (one torch thread) and solvers run in the calling thread, so the CPU
    time is the work done, independent of how many other jobs share the cores.
    """
    wall, cpu = time.perf_counter(), time.thread_time()
    out = fn()
    return out, time.perf_counter() - wall, time.thread_time() - cpu


# ------------------------------------------------------------------ meshes and queries
def mesh_for(dim: int, nodes: int, seed: int = 1):
    """A mesh of about ``nodes`` nodes (2D cut-out square or 3D box with two holes)."""
    from graphops.geometry import cutout_square, solid_with_holes

    if dim == 2:
        return cutout_square(seed, float(np.sqrt(1.2 / nodes)), 2)
    # box with two holes: N ~ 0.75 / h^3 at fine sizes (fitted on 10k-100k)
    return solid_with_holes(seed, float((0.75 / nodes) ** (1.0 / 3.0)), "box", 2)


def draw_queries(mesh, count: int, seed: int) -> List[Dict[str, np.ndarray]]:
    """Random Dirichlet problems: f inside, g on the boundary (0 elsewhere), as the datasets draw them."""
    from graphops.boundary import boundary_nodes
    from graphops.data.fields import random_boundary, random_source

    rng = np.random.default_rng(seed)
    dim = mesh.points.shape[1]
    lo, hi = np.zeros(dim), np.ones(dim)  # the generators' unit box (the training frame)
    on_boundary = boundary_nodes(mesh)
    x = mesh.points.T
    out = []
    for _ in range(count):
        f = random_source(rng, lo, hi)(x)
        g = random_boundary(rng, lo, hi)(x)
        out.append({"f": f, "g": np.where(on_boundary, g, 0.0), "g_all": g})
    return out


# ------------------------------------------------------------------ reference solvers
@contextmanager
def amg_linear_solver():
    """Inside the block, the Poisson solver's sparse SPD solves use pyamg SA-preconditioned CG."""
    import pyamg
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    import graphops.solvers.poisson as poisson

    original = poisson.solve_sparse

    def solve(A, b, spd=False, dim=2):
        if not spd:
            return original(A, b, spd=spd, dim=dim)
        A = sp.csr_matrix(A)
        ml = pyamg.smoothed_aggregation_solver(A, symmetry="symmetric", max_coarse=500)
        x, info = spla.cg(A, b, rtol=1e-10, atol=0.0, M=ml.aspreconditioner(cycle="V"), maxiter=500)
        if info != 0:
            return original(A, b, spd=spd, dim=dim)
        return x

    poisson.solve_sparse = solve
    try:
        yield
    finally:
        poisson.solve_sparse = original


def reference_solvers(have_amg: bool) -> Dict[str, Callable]:
    from graphops.solvers import solve_poisson

    def direct(mesh, q):
        return solve_poisson(mesh, f=q["f"], dirichlet="all", g=q["g_all"])

    solvers = {"direct": direct}
    if have_amg:
        def amg(mesh, q):
            with amg_linear_solver():
                return solve_poisson(mesh, f=q["f"], dirichlet="all", g=q["g_all"])

        solvers["amg"] = amg
    return solvers


# ------------------------------------------------------------------ model
def find_checkpoint(problem: str) -> Optional[Path]:
    """The library-default BENO (attention to all boundary tokens) trained by benchmarks/beno.py on ``problem``, newest first."""
    from graphops.train import load_model

    for path in sorted(glob.glob(str(RUNS / problem / "beno-*" / "best.pt")), key=os.path.getmtime, reverse=True):
        _, _, meta = load_model(path)
        if (meta.get("model_config") or {}).get("boundary_attention", "cross") == "cross":
            return Path(path)
    return None


def _attention(checkpoint: str) -> str:
    """How a BENO checkpoint's nodes attend to the boundary, in words (for the report)."""
    from graphops.errors import CheckpointError
    from graphops.train.checkpoint import load_checkpoint

    try:
        config = load_checkpoint(checkpoint).get("model_config") or {}
    except CheckpointError:  # the untrained model's label is not a file
        return "an untrained model"
    attention = config.get("boundary_attention", "cross")
    return {"cross": "attention to all boundary tokens, the default", "local": "local boundary attention, an option",
            "pool": "pooled boundary vector"}.get(attention, attention)


def training_spacing(model_source, mesh) -> Tuple[float, str]:
    """The spacing of the training-resolution path: the checkpoint's training element size, and where it came from.

    An untrained model (``--quick``) has none: three times the mesh's own element size stands in.
    """
    from graphops.graph import median_edge_length, mesh_to_graph
    from graphops.predict import training_element_size
    from graphops.train.checkpoint import checkpoint_frame, load_model

    if not isinstance(model_source, tuple):
        _, _, meta = load_model(model_source)
        size = training_element_size(checkpoint_frame(meta, model_source))
        if size is not None:
            return size, "training element size (checkpoint frame)"
    return 3 * median_edge_length(mesh_to_graph(mesh, boundary=False)), "3x the mesh element size (no training frame)"


#: The two ways the model is evaluated: on the mesh's own graph, and on a coarse graph at the training element size.
PATHS = ("native", "training-res")


def bench_size(dim: int, nodes: int, model_source, args, solvers: Dict[str, Callable]) -> List[Dict[str, Any]]:
    """Time the reference solvers and both model paths on one mesh; one row per model path."""
    from graphops.boundary import boundary_nodes
    from graphops.inference import InferenceSession

    mesh, mesh_s, _ = timed(lambda: mesh_for(dim, nodes))
    n = mesh.num_points
    _say(f"{dim}D ~{nodes}: {n} nodes, meshed in {mesh_s:.1f} s")
    queries = draw_queries(mesh, args.queries, seed=nodes + dim)
    fixed = {"bc_dirichlet": boundary_nodes(mesh)}
    paths = [p for p in PATHS if p != "native" or n <= args.native_max]

    def make(path: str, spacing: Optional[float] = None):
        coarsen = spacing if path == "training-res" else None
        if isinstance(model_source, tuple):
            model, normalizer = model_source
            return lambda: InferenceSession(model, mesh, normalizer=normalizer, fixed=fixed, threads=args.threads,
                                            coarsen=coarsen)
        return lambda: InferenceSession(model_source, mesh, fixed=fixed, threads=args.threads, coarsen=coarsen)

    sessions, builders, graph_times, batch = {}, {}, {}, {}
    spacing, spacing_from = training_spacing(model_source, mesh)
    for path in paths:
        builders[path] = make(path, spacing)
        sessions[path], wall_s, cpu_s = timed(builders[path])
        graph_times[path] = (cpu_s, wall_s)
        model_nodes = sessions[path].graph.num_nodes
        batch[path] = max(2, min(args.queries, args.batch_nodes // model_nodes))
    model_queries = [{"f": q["f"], "g": q["g"]} for q in queries]
    for path in paths:
        sessions[path].predict_one(model_queries[0])  # warm-up
    # memory: sampled by a thread during the timed calls (its CPU time is not the calling thread's)
    mem: Dict[str, float] = {f"{p} graph": peak_rss_increase(builders[p])[1] for p in paths}
    refs: Dict[int, np.ndarray] = {}
    names = [*solvers, *[f"{p} single" for p in paths], *[f"{p} batched" for p in paths]]
    wall: Dict[str, List[float]] = {k: [] for k in names}
    cpu: Dict[str, List[float]] = {k: [] for k in names}
    preds: Dict[str, np.ndarray] = {}

    def record(name: str, fn: Callable[[], Any], per: int = 1) -> Any:
        (out, peak), w, c = timed(lambda: peak_rss_increase(fn))
        wall[name].append(w / per)
        cpu[name].append(c / per)
        mem[name] = max(mem.get(name, 0.0), peak)
        return out

    rounds = args.rounds if n < args.big else 1  # the largest meshes: one round (time budget)
    for r in range(rounds):
        qi = r % len(queries)
        for name, solve in solvers.items():
            refs.setdefault(qi, record(name, lambda: solve(mesh, queries[qi])))
        for path in paths:
            record(f"{path} single", lambda: sessions[path].predict_one(model_queries[qi]))
            if r < args.batched_rounds:
                some = model_queries[: batch[path]]
                preds[path] = record(f"{path} batched", lambda: sessions[path].predict(some), per=len(some))
        _say(f"{dim}D {n}: round {r + 1}/{rounds} (CPU s): " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in cpu.items() if v))
    med = {k: statistics.median(v) for k, v in cpu.items() if v}
    med_wall = {k: statistics.median(v) for k, v in wall.items() if v}
    fastest = min(solvers, key=lambda k: med[k])
    ref = med[fastest]
    rows = []
    for path in paths:
        errors = [float(np.linalg.norm(preds[path][i, :, 0] - u) / np.linalg.norm(u)) for i, u in refs.items()]
        single, batched = med[f"{path} single"], med[f"{path} batched"]
        row = {
            "dim": dim, "nodes": n, "path": path, "model nodes": int(sessions[path].graph.num_nodes),
            "graph s": graph_times[path][0], "graph wall s": graph_times[path][1],
            **{f"{k} s": med[k] for k in solvers},
            "reference": fastest, "reference s": ref,
            "model single s": single, "model batched s/query": batched,
            "single/ref": single / ref, "batched/ref": batched / ref,
            "single/ref wall": med_wall[f"{path} single"] / med_wall[fastest],
            "batched/ref wall": med_wall[f"{path} batched"] / med_wall[fastest],
            "graph MiB": mem[f"{path} graph"], "ref MiB": mem[fastest], "single MiB": mem[f"{path} single"],
            "batched MiB": mem[f"{path} batched"],
            "rel L2 vs ref": float(np.mean(errors)), "queries": batch[path], "rounds": rounds,
            "timings": {"cpu": {k: v for k, v in cpu.items() if k in solvers or k.startswith(path)},
                        "wall": {k: v for k, v in wall.items() if k in solvers or k.startswith(path)}},
        }
        if path == "training-res":
            row["spacing"], row["spacing from"] = spacing, spacing_from
        _say(f"{dim}D {n} {path}: model {single:.3f} s single, {batched:.3f} s/query batched vs {fastest} "
             f"{ref:.3f} s (CPU) -> {row['single/ref']:.3f}x / {row['batched/ref']:.3f}x; rel L2 {row['rel L2 vs ref']:.3f}")
        rows.append(row)
    return rows


def model_for(dim: int, args):
    """A checkpoint path, or (untrained model, None) with --quick / when none is found."""
    problem = "poisson-dirichlet" if dim == 2 else "poisson-dirichlet-3d"
    ckpt = getattr(args, f"checkpoint_{dim}d") or (None if args.quick else find_checkpoint(problem))
    if ckpt:
        return Path(ckpt), str(ckpt)
    from graphops.models import build_model

    torch.manual_seed(0)
    return (build_model({"name": "beno", "dim": dim}), None), "untrained (no checkpoint: errors meaningless)"


def _duration(rows: List[Dict[str, Any]], minutes: float, reused: bool) -> str:
    """How long the measurements took: this run, or (``reused``: rows from the cache) the runs that measured them."""
    if not reused:
        return f"This run took {minutes:.1f} min."
    per_size = {(r["dim"], r["nodes"]): r.get("measure min") for r in rows}  # both paths of a size share it
    if None not in per_size.values():
        return (f"The rows were measured by earlier runs of this script (`--no-report`), "
                f"{sum(per_size.values()):.1f} min in all.")
    return ("The rows were measured by an earlier run of this script (`--no-report`); the note above says how "
            "long it took.")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, untrained model (smoke run)")
    ap.add_argument("--sizes-2d", default=",".join(map(str, SIZES_2D)))
    ap.add_argument("--sizes-3d", default=",".join(map(str, SIZES_3D)))
    ap.add_argument("--queries", type=int, default=64, help="queries per mesh (the batch)")
    ap.add_argument("--batch-nodes", type=int, default=500_000,
                    help="cap on queries x nodes of the timed batch (fewer queries on the largest meshes)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (median reported)")
    ap.add_argument("--batched-rounds", type=int, default=1, help="rounds that also time the whole batch")
    ap.add_argument("--big", type=int, default=50_000, help="meshes with at least this many nodes get one round")
    ap.add_argument("--native-max", type=int, default=150_000,
                    help="meshes with more nodes are timed on the training-resolution path only (the native path "
                    "takes minutes per query there)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the model (the solvers use one)")
    ap.add_argument("--note", default="", help="a paragraph added to the report (diagnosis, what was left out)")
    ap.add_argument("--resume", action="store_true", help="reuse rows already measured under benchmarks/.runs/inference/")
    ap.add_argument("--no-report", action="store_true", help="measure (and cache) only; write the report later")
    ap.add_argument("--checkpoint-2d", default=None)
    ap.add_argument("--checkpoint-3d", default=None)
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes_2d, args.sizes_3d, args.queries, args.rounds = "500,2000", "3000", 4, 1
    try:
        import pyamg  # noqa: F401
        have_amg = True
    except ImportError:
        have_amg = False
    solvers = reference_solvers(have_amg)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rows, models, reused = [], {}, False
    for dim, sizes in ((2, args.sizes_2d), (3, args.sizes_3d)):
        sizes = [int(s) for s in str(sizes).split(",") if s]
        if not sizes:
            continue
        source, label = model_for(dim, args)
        models[f"{dim}D"] = label
        for nodes in sizes:
            cached = CACHE / f"{dim}d-{nodes}.json"
            size_rows = json.loads(cached.read_text()) if args.resume and cached.exists() else None
            if isinstance(size_rows, list):
                reused = True
                _say(f"{dim}D ~{nodes}: reusing {cached}")
            else:
                size_start = time.perf_counter()
                size_rows = bench_size(dim, nodes, source, args, solvers)
                for row in size_rows:
                    row["model"] = label
                    row["measure min"] = (time.perf_counter() - size_start) / 60
                CACHE.mkdir(parents=True, exist_ok=True)
                with atomic_write(cached, "w") as fh:
                    fh.write(json.dumps(size_rows))
            rows.extend(size_rows)
    minutes = (time.perf_counter() - start) / 60
    if args.no_report:
        _say(f"done in {minutes:.1f} min (--no-report: rows kept under {CACHE})")
        return 0
    lines = []
    for row in rows:
        goal_single = 0.5 if row["dim"] == 2 else 0.2
        if row["nodes"] >= 80_000:  # the ~100k meshes (88k nodes) and above
            ok = row["single/ref"] <= goal_single and row["batched/ref"] <= 0.1
            lines.append(f"- {row['dim']}D, {row['nodes']} nodes, {row['path']}: single {row['single/ref']:.3f}x "
                         f"(goal <= {goal_single}x), batched {row['batched/ref']:.3f}x per query (goal <= 0.1x), "
                         f"rel L2 {row['rel L2 vs ref']:.3f}: **{'met' if ok else 'missed'}**.")
    intro = (
        ("**Smoke run (`--quick`): untrained model, tiny sizes; the numbers mean nothing.**\n\n" if args.quick else "")
        + "Model: BENO through `graphops.inference.InferenceSession`, "
        f"float32, `torch.inference_mode`, {args.threads} torch thread(s); checkpoints: "
        + "; ".join(f"{d} {models[d]} ({_attention(models[d])})" for d in ("2D", "3D") if d in models)
        + ". Each query is a random Dirichlet Poisson problem (f, g from the training "
        f"distributions). Reference solvers: `direct` = `graphops.solvers.solve_poisson` (scikit-fem P1 assembly + "
        "SuperLU in 2D, Jacobi-CG in 3D above 5000 unknowns); `amg` = the same assembly with pyamg smoothed-aggregation "
        "CG (rtol 1e-10); the faster of the two (`reference`) is the denominator of the ratios. Times are CPU seconds of "
        f"the calling thread (model on one torch thread, solvers single-threaded), medians of {args.rounds} interleaved "
        f"rounds (one from {args.big:,} nodes up; solver, model on one query, and in the first {args.batched_rounds} round(s) the model on `queries` "
        f"queries as one batch, reported per query: {args.queries}, fewer where queries x nodes would exceed "
        f"{args.batch_nodes:,}). `graph s`: building the graph, boundary features and attention context once per mesh "
        "(and on the `training-res` path the coarse graph and its interpolation matrix; not in the per-query times). "
        "Paths: `native` runs the model on the mesh's own graph (meshes up to "
        f"{args.native_max:,} nodes); `training-res` on a coarse graph of the part at the checkpoint's training element "
        "size, its prediction interpolated to every mesh node (`graphops predict --resolution training`, "
        "`InferenceSession(coarsen=...)`); `model nodes` is the graph the model ran on. `MiB`: peak resident-memory increase during the call. `rel L2 vs ref`: "
        "the model against the reference solutions.\n\n"
        "The ratios use CPU time, so that other work on the machine does not distort them; wall-time ratios, also "
        "interleaved, are in the JSON as `single/ref wall` and `batched/ref wall`.\n\n"
        + "\n".join(lines) + (f"\n\n{args.note}" if args.note else "") + f"\n\n{_duration(rows, minutes, reused)}"
    )
    columns = ["dim", "nodes", "path", "model nodes", "queries", "graph s", *[f"{k} s" for k in solvers], "reference", "model single s",
               "model batched s/query", "single/ref", "batched/ref", "rel L2 vs ref", "ref MiB", "single MiB",
               "batched MiB"]
    table = [{k: v for k, v in r.items() if k != "timings"} for r in rows]
    write_report("inference", "Inference speed: BENO vs the reference solve", intro, columns, table,
                 extra={"settings": vars(args), "models": models, "minutes": minutes,
                        "timings": [{"dim": r["dim"], "nodes": r["nodes"], **r["timings"]} for r in rows]})
    _say(f"done in {minutes:.1f} min; wrote benchmarks/results/inference.json and docs/benchmarks/inference.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
