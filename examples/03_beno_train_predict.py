"""Train a small BENO and predict on a shape it never saw, compared with the FEM solution.

1. generate Poisson problems with Dirichlet data on squares with 4 random
   rectangular corner cut-outs (training) and with 0..4 cut-outs (test)
   (:func:`graphops.data.generate_dataset`);
2. train BENO on them with the generic trainer (:func:`graphops.train.train`:
   checkpoints, early stopping, resume);
3. evaluate the best checkpoint per cut-out count (:func:`graphops.train.evaluate`);
4. predict on ``meshes/plate_with_hole.geo`` (a circular hole: never seen in
   training) with the demo's source and boundary formulas, with the FEM
   reference and the error (:func:`graphops.predict.predict`).

Writes ``training.png`` (loss curves and error per cut-out count),
``<mesh>.png`` / ``<mesh>.vtu`` (prediction, FEM, error), ``beno/best.pt``
(the checkpoint: ``graphops predict beno/best.pt MESH`` uses it) and ``data/``.
Re-running resumes (finished data and epochs are kept).
Run ``python examples/03_beno_train_predict.py`` (about 4 minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "03_beno_train_predict"

#: Full size / ``--small`` settings.
SIZES = {
    "full": {"n_train": 128, "n_test_per_family": 4, "mesh_size": 0.05, "epochs": 25, "tiny": False,
             "model": {"name": "beno", "hidden": 32, "layers": 3}, "workers": 2},
    "small": {"n_train": 8, "n_test_per_family": 1, "mesh_size": None, "epochs": 2, "tiny": True,
              "model": {"name": "beno", "hidden": 8, "layers": 1}, "workers": 1},
}


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("examples_output") / NAME, help="output folder")
    ap.add_argument("--small", action="store_true", help="reduced size used by the tests (8 tiny samples, 2 epochs)")
    ap.add_argument("--mesh", type=Path, default=ROOT / "meshes" / "plate_with_hole.geo",
                    help="shape to predict on (default meshes/plate_with_hole.geo; try meshes/l_bracket.geo)")
    ap.add_argument("--epochs", type=int, default=None, help="training epochs (default 25, --small 2)")
    return ap.parse_args(argv)


def plot_training(history, evaluation, path: Path) -> Path:
    """Loss curves per epoch, and the test relative L2 per cut-out count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [row["epoch"] for row in history]
    ax0.plot(epochs, [row["train_loss"] for row in history], "o-", label="training loss (relative L2)")
    val = [(row["epoch"], row["val_rel_l2"]) for row in history if row.get("val_rel_l2") is not None]
    if val:
        ax0.plot(*zip(*val), "s-", label="validation relative L2")
    ax0.set_xlabel("epoch")
    ax0.set_yscale("log")
    ax0.legend()
    ax0.set_title("training on 4 cut-outs")
    fams = sorted(evaluation["families"], key=int)
    ax1.bar([str(f) for f in fams], [evaluation["families"][f]["rel_l2"] for f in fams],
            yerr=[evaluation["families"][f]["rel_l2_std"] for f in fams],
            color=["tab:orange" if int(f) == 4 else "tab:blue" for f in fams])
    ax1.set_xlabel("cut-outs (orange: the training family)")
    ax1.set_ylabel("test relative L2")
    ax1.set_title("generalisation to other cut-out counts")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run(args: argparse.Namespace) -> None:
    import torch

    from graphops.data import generate_dataset
    from graphops.demo import DEMO_BOUNDARY, DEMO_SOURCE
    from graphops.predict import predict
    from graphops.train import evaluate, format_table, train

    torch.set_num_threads(1)  # small graphs: one thread is as fast as two and leaves a core free
    size = SIZES["small" if args.small else "full"]
    epochs = args.epochs or size["epochs"]
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    options = {"mesh_size": size["mesh_size"]} if size["mesh_size"] else {}

    print(f"1/4 generating {size['n_train']} training samples (4 cut-outs) and "
          f"{5 * size['n_test_per_family']} test samples (0..4 cut-outs)", flush=True)
    train_root = generate_dataset("poisson-dirichlet", size["n_train"], out / "data" / "train", seed=1,
                                  workers=size["workers"], tiny=size["tiny"], cutouts=[4], **options)
    test_root = generate_dataset("poisson-dirichlet", 5 * size["n_test_per_family"], out / "data" / "test", seed=2,
                                 workers=size["workers"], tiny=size["tiny"], cutouts=[0, 1, 2, 3, 4], **options)

    print(f"2/4 training BENO {size['model']} for {epochs} epochs", flush=True)
    config = {
        "data": {"root": str(train_root), "val_fraction": 0.125},
        "model": size["model"],
        "train": {"epochs": epochs, "batch_size": 8, "lr": 2e-3, "scheduler": "cosine", "patience": 8,
                  "seed": 0, "device": "cpu"},
        "out": str(out / "beno"),
    }
    history = []

    def report(row):
        history.append(row)
        val = row.get("val_rel_l2")
        print(f"   epoch {row['epoch']:>3}: training loss {row['train_loss']:.4f}, validation relative L2 "
              f"{'-' if val is None else f'{val:.4f}'} ({row['seconds']:.1f} s)", flush=True)

    best = train(config, progress=False, on_epoch_end=report)
    if not history:  # everything was trained by an earlier run: read its metrics back
        import json

        history = json.loads((out / "beno" / "metrics.json").read_text())["epochs"]

    print("3/4 evaluating the best checkpoint on every cut-out count", flush=True)
    evaluation = evaluate(best, test_root, device="cpu", progress=False)
    print(format_table(evaluation))

    print(f"4/4 predicting on {args.mesh.name} with the FEM comparison", flush=True)
    result = predict(best, args.mesh, source=DEMO_SOURCE, boundary=DEMO_BOUNDARY,
                     out=out / f"{args.mesh.stem}.vtu", compare_fem=True)
    print(f"   {result.mesh.num_points} nodes: relative L2 vs FEM {result.relative_l2:.4f}; "
          f"model {1000 * result.seconds:.1f} ms, FEM {1000 * result.fem_seconds:.1f} ms")

    curves = plot_training(history, evaluation, out / "training.png")
    print(f"\nwrote {curves}")
    for path in result.files.values():
        print(f"wrote {path}")
    print(f"checkpoint {best}")
    print(f"done in {time.perf_counter() - started:.0f} s; outputs are in {out.resolve()}")


def main(argv=None) -> int:
    from graphops.errors import GraphopsError

    try:
        run(parse_args(argv))
    except GraphopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
