"""Training on another solver's files: accuracy against NGSolve on held-out shapes, and import speed.

(a) Accuracy. ``examples/06_independent_solver_data.py``'s writers make NGSolve
(netgen meshing, P2 finite elements; graphops is not involved) solve

- ``heat2d``: steady heat conduction with a variable conductivity on unit
  plates with 1-3 random circular holes, ``T = T_bc`` on the outer sides;
  inputs ``k``, ``q`` and the marked boundary ``T_bc``; target ``T``;
- ``elastic3d``: linear elasticity of a 2 x 1 x 1 block with 1-2 random
  cylindrical holes (tetrahedra), clamped at x = 0, a body force;
  inputs ``E`` (Young's modulus field) and ``body_force`` (3 components);
  target ``displacement`` (3 components),

and writes ordinary VTU files. ``graphops.data.importer.import_dataset`` (what
``graphops import`` runs) imports them; every field model trains on them with
the generic trainer (what ``graphops train`` runs: AdamW, cosine schedule,
relative L2 loss, the same epochs for every model); each test shape is a shape
no model saw (every file is its own geometry; 15 % of them are held out), and
the test relative L2 is against NGSolve's own solution at the vertices. The
"new shape" column runs ``graphops.predict.predict`` on 3 further NGSolve
files (another seed) and compares the written VTU with NGSolve's. The
baseline row predicts the training set's mean of each target channel
everywhere (no learning).

(b) Import speed. One NGSolve plate of about 10k nodes is solved once; 1,000
copies with randomly perturbed point fields are written with meshio (binary
VTU, zlib: what ``meshio.write`` does by default) and imported with 1 and 2
workers.

Run: .venv/bin/python benchmarks/import.py [--quick] [--work DIR]
(``--quick``: a few files and epochs, to check the script). Torch runs on one
thread per process; each training run takes a few minutes on 2 cores (run it with ``nice``).
"""
from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DOCS, RESULTS, ROOT, machine  # noqa: E402

sys.path.insert(0, str(ROOT / "examples"))
example = importlib.import_module("06_independent_solver_data")

MODELS = {
    "beno": {"name": "beno", "hidden": 32, "layers": 3},
    "meshgraphnet": {"name": "meshgraphnet", "hidden": 48, "layers": 6},
    "gno": {"name": "gno", "hidden": 16, "iterations": 4},
    "nuno": {"name": "nuno", "n_subdomains": 8, "grid_shape": 12, "n_modes": 6, "hidden": 24},
    "fno_global": {"name": "fno_global", "grid_shape": 32, "n_modes": 8, "hidden": 24},
}
CASES = {
    "heat2d": {"kind": "heat", "spec": example.HEAT_SPEC, "target": "T", "maxh": 0.05, "n": 64},
    "elastic3d": {"kind": "elastic", "spec": example.ELASTIC_SPEC, "target": "displacement", "maxh": 0.25, "n": 24},
}
GRID_3D = {"nuno": {"grid_shape": 8, "n_modes": 4}, "fno_global": {"grid_shape": 16, "n_modes": 6}}


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _write_chunk(args) -> int:
    folder, kind, start, n, maxh, seed = args
    example.write_dataset_files(Path(folder), kind, n, maxh, seed=seed, start=start)
    return n


def ngsolve_files(folder: Path, kind: str, n: int, maxh: float, seed: int, workers: int = 2) -> float:
    """Write ``n`` NGSolve samples (2 processes); return the seconds spent."""
    start = time.perf_counter()
    step = (n + workers - 1) // workers
    jobs = [(str(folder), kind, s, min(step, n - s), maxh, seed) for s in range(0, n, step)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_write_chunk, jobs))
    return time.perf_counter() - start


def mean_baseline(dataset_root: Path, seed: int) -> float:
    """Relative L2 (mean over test samples) of predicting the training mean of each target channel."""
    train_set, _, test_set = _split(dataset_root, seed)
    total = sum(np.asarray(d.y, dtype=np.float64).sum(0) for d in train_set)
    count = sum(d.y.shape[0] for d in train_set)
    mean = total / count
    errors = []
    for d in test_set:
        y = np.asarray(d.y, dtype=np.float64)
        errors.append(np.linalg.norm(y - mean) / np.linalg.norm(y))
    return float(np.mean(errors))


def _run_config(case: str, model: str, data: Path, work: Path, epochs: int, dim: int) -> dict:
    cfg = dict(MODELS[model])
    if dim == 3 and model in GRID_3D:
        cfg.update(GRID_3D[model])
    return {
        "data": {"root": str(data), "train_families": [0], "test_families": [0], "val_fraction": 0.1,
                 "test_fraction": 0.15, "cache": True},
        "model": cfg,
        "train": {"epochs": epochs, "batch_size": 4, "lr": 2e-3, "scheduler": "cosine", "device": "cpu",
                  "patience": None, "seed": 0},
        "out": str(work / "runs" / f"{case}-{model}"),
    }


def _split(root: Path, seed: int):
    from graphops.train import split_run_data
    from graphops.train.config import load_run_config

    cfg = load_run_config(_run_config("x", "meshgraphnet", root, Path("/tmp"), 1, 2))
    cfg["train"]["seed"] = seed
    cfg["data"]["cache"] = False
    return split_run_data(cfg)


def accuracy(args, work: Path) -> List[Dict]:
    import meshio

    from graphops.data.importer import import_dataset
    from graphops.predict import predict
    from graphops.train import train

    rows = []
    for case, c in CASES.items():
        n = 8 if args.quick else c["n"]
        raw = work / "ngsolve" / case
        seconds = ngsolve_files(raw, c["kind"], n, c["maxh"], seed=0)
        new = work / "ngsolve" / f"{case}_new"
        ngsolve_files(new, c["kind"], 3, c["maxh"], seed=1, workers=1)
        _say(f"{case}: {n} NGSolve files ({seconds:.0f} s)")
        start = time.perf_counter()
        data = import_dataset(raw, c["spec"], work / "data" / case, workers=2, progress=False)
        import_s = time.perf_counter() - start
        manifest = json.loads((data / "manifest.json").read_text())
        nodes = int(np.mean(manifest["num_nodes"]))
        dim = manifest["channels"]["dim"]
        rows.append({"case": case, "model": "mean of training targets (no learning)", "nodes": nodes,
                     "test rel L2": mean_baseline(data, 0), "new shape rel L2": None, "train s": None})
        for model in MODELS:
            cfg = _run_config(case, model, data, work, 2 if args.quick else args.epochs, dim)
            start = time.perf_counter()
            best = train(cfg, progress=False)
            train_s = time.perf_counter() - start
            test = json.loads((Path(cfg["out"]) / "test_metrics.json").read_text())["overall"]
            new_errors = []
            for path in sorted(new.glob("*.vtu")):
                out = work / "predictions" / f"{case}-{model}-{path.stem}.vtu"
                predict(best, path, out=out, png=False)
                truth = np.asarray(meshio.read(path).point_data[c["target"]])
                guess = np.asarray(meshio.read(out).point_data[c["target"]])
                guess = guess[:, : truth.shape[1]] if truth.ndim == 2 else guess
                new_errors.append(float(np.linalg.norm(guess - truth) / np.linalg.norm(truth)))
            rows.append({"case": case, "model": model, "nodes": nodes, "test rel L2": float(test["rel_l2"]),
                         "new shape rel L2": float(np.mean(new_errors)), "train s": round(train_s, 1),
                         "test samples": int(test["samples"]), "import s": round(import_s, 2)})
            _say(f"{case} {model}: test rel L2 {test['rel_l2']:.4f}, new shapes {np.mean(new_errors):.4f}, "
                 f"{train_s:.0f} s")
    return rows


def _copy_chunk(args) -> int:
    """Write copies of the base sample with perturbed fields (one process's share)."""
    import meshio

    base, folder, start, count = args
    mesh = meshio.read(base)
    for i in range(start, start + count):
        rng = np.random.default_rng(i)
        data = {}
        for name, value in mesh.point_data.items():
            scale = 1.0 if name == "dirichlet" else 1.0 + 0.1 * rng.standard_normal()
            data[name] = value * scale
        meshio.write(Path(folder) / f"copy_{i:05d}.vtu", meshio.Mesh(mesh.points, mesh.cells, point_data=data))
    return count


def import_speed(args, work: Path) -> List[Dict]:
    from graphops.data.importer import import_dataset

    n = 40 if args.quick else 1000
    folder = work / "speed" / "files"
    base = work / "speed" / "base.vtu"
    if not base.exists():
        pts, tri, data = example.heat_plate(np.random.default_rng(5), 0.0095)
        example.write_vtu(base, pts, tri, data)
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.vtu"))) < n:
        step = n // 2
        start = time.perf_counter()
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
            list(pool.map(_copy_chunk, [(str(base), str(folder), s, min(step, n - s)) for s in range(0, n, step)]))
        _say(f"wrote {n} files in {time.perf_counter() - start:.0f} s")
    files = sorted(folder.glob("*.vtu"))[:n]
    nodes = int(len(__import__("meshio").read(files[0]).points))
    size_mb = sum(f.stat().st_size for f in files) / 2**20
    rows = []
    for count, workers in ((n // 4, 1), (n // 4, 2), (n, 2)):
        out = work / "speed" / f"data-{count}-{workers}"
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        import_dataset(files[:count], example.HEAT_SPEC, out, workers=workers, progress=False)
        seconds = time.perf_counter() - start
        shard_mb = sum(p.stat().st_size for p in (out / "shards").glob("*.npz")) / 2**20
        rows.append({"files": count, "nodes per file": nodes, "workers": workers, "seconds": round(seconds, 2),
                     "files/s": round(count / seconds, 1), "input MiB": round(size_mb * count / n, 1),
                     "dataset MiB": round(shard_mb, 1)})
        _say(f"import {count} files, {workers} worker(s): {seconds:.1f} s")
        shutil.rmtree(out, ignore_errors=True)
    return rows


def cpu_per_file(work: Path, count: int = 64) -> Dict[str, float]:
    """CPU seconds per file of the import work (read + check + build arrays, and shard writing), in this
    process: what the wall time per file would be on an idle core, whatever else runs on the machine."""
    from graphops.data.import_spec import parse_spec
    from graphops.data.importer import SHARD_COMPRESSION, Source, import_sample
    from graphops.data.shards import write_shard

    spec = parse_spec(example.HEAT_SPEC)
    files = sorted((work / "speed" / "files").glob("*.vtu"))[:count]
    start = time.process_time()
    samples = []
    for i, f in enumerate(files):
        sample = import_sample(spec, Source(str(f)), None)
        sample["index"] = np.asarray(i, dtype=np.int64)
        samples.append(sample)
    read = (time.process_time() - start) / len(files)
    start = time.process_time()
    for s in range(0, len(samples), 32):
        write_shard(work / "speed" / "cpu-shard.npz", samples[s : s + 32], compresslevel=SHARD_COMPRESSION)
    write = (time.process_time() - start) / len(files)
    return {"files": len(files), "read_cpu_s": round(read, 4), "write_cpu_s": round(write, 4),
            "total_cpu_s": round(read + write, 4)}


def _table(columns, rows) -> List[str]:
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else ("—" if v is None else str(v))  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return lines


def write(acc: List[Dict], speed: List[Dict], args, cpu: Dict | None = None, load: float | None = None) -> None:
    payload = {"benchmark": "import", "machine": machine(), "epochs": args.epochs, "accuracy": acc,
               "import_speed": speed, "cpu_per_file": cpu,
               "load_average": os.getloadavg()[0] if load is None else load}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "import.json").write_text(json.dumps(payload, indent=2) + "\n")
    m = payload["machine"]
    intro = (__doc__.split("\n\n", 1)[1].split("Run:")[0]).strip()
    lines = ["# Training on another solver's files (NGSolve)", "", intro, "",
             f"## Accuracy against NGSolve on held-out shapes ({args.epochs} epochs per model)", ""]
    lines += _table(["case", "model", "nodes", "test rel L2", "new shape rel L2", "train s"], acc)
    for case in dict.fromkeys(r["case"] for r in acc):
        rows = [r for r in acc if r["case"] == case]
        base = next((r for r in rows if r["new shape rel L2"] is None), None)
        learned = [r for r in rows if r["new shape rel L2"] is not None]
        if base and learned:
            best = min(learned, key=lambda r: r["test rel L2"])
            lines += ["", f"{case}: the best model here, {best['model']}, reaches a test relative L2 of "
                      f"{best['test rel L2']:.3f} ({best['test samples']} held-out shapes; {best['new shape rel L2']:.3f} "
                      f"on the 3 new shapes) against {base['test rel L2']:.3f} for the no-learning baseline."]
    lines += ["", "These are short trainings (the epochs above, a few minutes each on a loaded 2-core CPU, small "
              "models): they show that every field model trains on the imported files and is scored against the "
              "other solver, not the accuracy each model reaches with a full budget (see the BENO and NUNO "
              "benchmarks for that)."]
    lines += ["", "## Import speed", ""]
    lines += _table(["files", "nodes per file", "workers", "seconds", "files/s", "input MiB", "dataset MiB"], speed)
    by = {(r["files"], r["workers"]): r["seconds"] for r in speed}
    small = min(r["files"] for r in speed) if speed else None
    if small and (small, 1) in by and (small, 2) in by and (4 * small, 2) in by:
        lines += ["", f"Scaling: 2 workers import {small} files {by[(small, 1)] / by[(small, 2)]:.2f}x as fast as "
                  f"1; 4x the files take {by[(4 * small, 2)] / by[(small, 2)]:.2f}x the time (memory stays at one "
                  "shard per worker: each worker reads its files and writes its shard)."]
    cpu = payload.get("cpu_per_file")
    if cpu:
        lines += ["", f"CPU time per file, measured in one process over {cpu['files']} files: "
                  f"{cpu['read_cpu_s'] * 1000:.0f} ms to read and check it and build its arrays (meshio's VTU "
                  f"reader is most of it), {cpu['write_cpu_s'] * 1000:.0f} ms to write it into a shard (zlib level "
                  f"1), {cpu['total_cpu_s'] * 1000:.0f} ms in all. On 2 idle cores, 1,000 such files would take "
                  f"about {1000 * cpu['total_cpu_s'] / 2:.0f} s plus the start of the worker processes (about "
                  "2 s); the wall times in the table above are longer by the machine's load."]
    lines += ["", f"Measured {m['date']} on {m['cpu_count']} CPU cores shared with other jobs (1-minute load "
              f"average at the end: {payload['load_average']:.1f}), Python {m['python']}, numpy {m['numpy']}, "
              f"torch {m['torch']}.",
              "Raw numbers: `benchmarks/results/import.json`. Re-run: `.venv/bin/python benchmarks/import.py`."]
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "import.md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few files and 2 epochs (checks the script)")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--work", type=Path, default=Path("/tmp/graphops-bench-import"), help="scratch folder")
    ap.add_argument("--only", choices=("accuracy", "speed", "cpu"), default=None,
                    help="run one part, keep the other parts' numbers from benchmarks/results/import.json")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    previous = json.loads((RESULTS / "import.json").read_text()) if (RESULTS / "import.json").exists() else {}
    run = lambda part: args.only in (None, part)  # noqa: E731
    speed = import_speed(args, args.work) if run("speed") else previous.get("import_speed", [])
    cpu = cpu_per_file(args.work) if run("cpu") or run("speed") else previous.get("cpu_per_file")
    acc = accuracy(args, args.work) if run("accuracy") else previous.get("accuracy", [])
    if not args.quick:
        load = previous.get("load_average") if args.only == "cpu" else None
        write(acc, speed, args, cpu, load)
    else:
        print(json.dumps({"accuracy": acc, "import_speed": speed}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
