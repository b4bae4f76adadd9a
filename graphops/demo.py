"""The main job (``make demo``): BENO on the BENO protocol, end to end, on built-in data.

1. generate a training set of squares with 4 rectangular corner cut-outs and a
   test set with 0..4 cut-outs (Poisson, inhomogeneous Dirichlet data, FEM
   reference solutions from scikit-fem on gmsh meshes);
2. train BENO on the 4-cut-out shapes;
3. evaluate it on every cut-out count (relative L2 and MAE per family);
4. predict on the shipped meshes in ``meshes/`` (shapes never seen in
   training) with the FEM comparison, writing VTU + PNG;
5. print a results table and write it to ``OUT/results.md``.

Every step resumes: re-running after an interruption skips finished work.
Run ``python -m graphops.demo --help`` for the sizes.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]

#: Source and boundary formulas for the predictions on the shipped meshes (in
#: the range of the training distributions of graphops.data.fields).
DEMO_SOURCE = "8*exp(-((x-0.3)**2 + (y-0.75)**2)/0.02) - 6*exp(-((x-0.75)**2 + (y-0.3)**2)/0.03) + 2*cos(2*pi*x)"
DEMO_BOUNDARY = "0.5 + x - y**2 + 0.3*sin(2*pi*(x + y))"


def _say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def run_demo(
    out: Path,
    n_train: int = 160,
    n_test_per_family: int = 8,
    epochs: int = 20,
    mesh_size: float = 0.04,
    model: Optional[Dict[str, Any]] = None,
    workers: int = 2,
    meshes: Optional[List[Path]] = None,
) -> Dict[str, Any]:
    """Run the whole demo into ``out`` and return its results.

    Parameters
    ----------
    out : Path
        Folder for everything the demo writes.
    n_train : int
        Training samples (4 cut-outs); 10% of them are held out for validation.
    n_test_per_family : int
        Test samples per cut-out count 0..4.
    epochs : int
    mesh_size : float
        Target mesh size of the generated domains (0.04: ~700 nodes).
    model : dict, optional
        Model config (default BENO with its default sizes).
    workers : int
        Processes for data generation.
    meshes : list of Path, optional
        Meshes to predict on (default the shipped ``meshes/*.geo`` demo shapes).

    Returns
    -------
    dict
        ``evaluation`` (per-family metrics), ``predictions`` (per mesh), ``seconds``.
    """
    import torch

    from .data import generate_dataset
    from .predict import predict
    from .train import train
    from .train.evaluate import evaluate, format_table

    torch.set_num_threads(1)  # small graphs: one thread beats two on a 2-core machine
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "data"

    _say(f"1/4 generating {n_train} training samples (4 cut-outs) and {5 * n_test_per_family} test samples (0..4 cut-outs)")
    train_root = generate_dataset("poisson-dirichlet", n_train, data_dir / "train", workers=workers, seed=1,
                                  cutouts=[4], mesh_size=mesh_size)
    test_root = generate_dataset("poisson-dirichlet", 5 * n_test_per_family, data_dir / "test", workers=workers,
                                 seed=2, cutouts=[0, 1, 2, 3, 4], mesh_size=mesh_size)

    _say(f"2/4 training BENO for up to {epochs} epochs on the 4-cut-out shapes")
    run_dir = out / "beno"
    config = {
        "data": {"root": str(train_root), "train_families": [4], "val_fraction": 0.1},
        "model": model or {"name": "beno"},
        "train": {"epochs": epochs, "batch_size": 8, "lr": 2e-3, "scheduler": "cosine", "patience": 8, "seed": 0,
                  "device": "auto"},
        "out": str(run_dir),
    }
    def report(row: Dict[str, Any]) -> None:
        val = row.get("val_rel_l2")
        _say(f"   epoch {row['epoch']:>3}/{epochs}: train loss {row['train_loss']:.4f}, "
             f"validation relative L2 {'-' if val is None else f'{val:.4f}'}, {row['seconds']:.1f} s")

    best = train(config, on_epoch_end=report)

    _say("3/4 evaluating on 0..4 cut-outs (never seen: 0, 1, 2, 3)")
    evaluation = evaluate(best, test_root, progress=False)
    (out / "evaluation.json").write_text(json.dumps({k: v for k, v in evaluation.items() if k != "samples"}, indent=2))

    _say("4/4 predicting on shapes the model never saw, with the FEM reference")
    shapes = meshes or [ROOT / "meshes" / "plate_with_hole.geo", ROOT / "meshes" / "l_bracket.geo"]
    predictions = {}
    for mesh_file in shapes:
        if not Path(mesh_file).exists():
            _say(f"   skipping {mesh_file}: not found")
            continue
        res = predict(best, mesh_file, source=DEMO_SOURCE, boundary=DEMO_BOUNDARY,
                      out=out / "predictions" / f"{Path(mesh_file).stem}.vtu", compare_fem=True)
        predictions[Path(mesh_file).name] = {
            "nodes": res.mesh.num_points,
            "relative_l2": res.relative_l2,
            "model_ms": res.seconds * 1000,
            "fem_ms": res.fem_seconds * 1000,
            "files": {k: str(v) for k, v in res.files.items()},
        }

    seconds = time.perf_counter() - start
    table = _results_markdown(evaluation, predictions, best, seconds)
    (out / "results.md").write_text(table)
    print()
    print(format_table(evaluation))
    print()
    print(table)
    return {"evaluation": evaluation, "predictions": predictions, "seconds": seconds, "checkpoint": str(best)}


def _results_markdown(evaluation: Dict[str, Any], predictions: Dict[str, Any], best: Path, seconds: float) -> str:
    lines = [
        "# graphops demo results",
        "",
        f"BENO trained on squares with 4 rectangular corner cut-outs (checkpoint `{best}`, epoch {evaluation['epoch']}).",
        "",
        "| cut-outs | seen in training | samples | relative L2 | MAE |",
        "|---|---|---|---|---|",
    ]
    for fam, stats in sorted(evaluation["families"].items(), key=lambda kv: int(kv[0])):
        lines.append(f"| {fam} | {'yes' if int(fam) == 4 else 'no'} | {stats['samples']} | {stats['rel_l2']:.4f} | {stats['mae']:.4f} |")
    if predictions:
        lines += ["", "| new shape | nodes | relative L2 vs FEM | model ms | FEM ms | files |", "|---|---|---|---|---|---|"]
        for name, p in predictions.items():
            files = ", ".join(f"`{v}`" for v in p["files"].values())
            lines.append(f"| {name} | {p['nodes']} | {p['relative_l2']:.4f} | {p['model_ms']:.1f} | {p['fem_ms']:.1f} | {files} |")
    lines += ["", f"Total time {seconds / 60:.1f} min. Open the `.vtu` files in ParaView (point data: prediction, fem, error, f, g)."]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    from .errors import GraphopsError

    ap = argparse.ArgumentParser(prog="python -m graphops.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="demo_output", help="folder for all outputs (default demo_output)")
    ap.add_argument("--n-train", type=int, default=160)
    ap.add_argument("--n-test-per-family", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--mesh-size", type=float, default=0.04)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    try:
        result = run_demo(Path(args.out), args.n_train, args.n_test_per_family, args.epochs, args.mesh_size,
                          workers=args.workers)
    except GraphopsError as exc:
        print(f"graphops: error: {exc}", file=sys.stderr)
        return 2
    _say(f"done in {result['seconds'] / 60:.1f} min; everything is in {Path(args.out).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
