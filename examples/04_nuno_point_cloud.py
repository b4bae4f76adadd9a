"""NUNO on a non-uniform point cloud: K-D tree decomposition, then a small model on elasticity data.

1. generate plane-strain elasticity samples on unit cells with one random
   void, meshed finer near the void (:func:`graphops.data.generate_dataset`,
   problem ``elasticity-holes``; target: the von Mises stress at the nodes);
   their nodes are non-uniform point clouds, as in the NUNO paper;
2. split the first cloud with NUNO's K-D tree (:func:`graphops.decomposition.kdtree_decompose`:
   split where the points are least uniform) and plot the subdomains
   (:func:`graphops.viz.plot_decomposition`);
3. train NUNO with the generic trainer (:func:`graphops.train.train`) using
   ``examples/configs/nuno-elasticity.yaml`` with this example's data, output
   folder and number of epochs; its subdomain grids are one K-D tree
   decomposition of all training clouds;
4. predict the stress of held-out samples (:func:`graphops.train.evaluate`)
   and plot the median one against the FEM stress (:func:`graphops.viz.plot_fields`).

Writes ``decomposition.png``, ``prediction.png``, ``nuno/best.pt`` (+ metrics,
``test_metrics.json``) and ``data/``. Re-running resumes.
Run ``python examples/04_nuno_point_cloud.py`` (about 2 minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NAME = "04_nuno_point_cloud"
CONFIG = ROOT / "examples" / "configs" / "nuno-elasticity.yaml"

#: Full size / ``--small`` settings (``model`` entries override the YAML's).
SIZES = {
    "full": {"n": 150, "epochs": 60, "tiny": False, "workers": 2, "n_subdomains": 8, "model": {}},
    "small": {"n": 8, "epochs": 2, "tiny": True, "workers": 1, "n_subdomains": 4,
              "model": {"n_subdomains": 4, "grid_shape": 8, "n_modes": 4, "hidden": 8, "layers": 1}},
}


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("examples_output") / NAME, help="output folder")
    ap.add_argument("--small", action="store_true", help="reduced size used by the tests (8 tiny samples, 2 epochs)")
    ap.add_argument("--epochs", type=int, default=None, help="training epochs (default 60, --small 2)")
    return ap.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    import torch

    from graphops.data import MeshDataset, generate_dataset
    from graphops.decomposition import kdtree_decompose
    from graphops.train import evaluate, load_run_config, split_run_data, train
    from graphops.viz import plot_decomposition, plot_fields

    torch.set_num_threads(1)
    size = SIZES["small" if args.small else "full"]
    epochs = args.epochs or size["epochs"]
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    print(f"1/4 generating {size['n']} elasticity samples (unit cell with a void, graded mesh)", flush=True)
    root = generate_dataset("elasticity-holes", size["n"], out / "data", seed=0, workers=size["workers"],
                            tiny=size["tiny"])
    dataset = MeshDataset(root)

    print("2/4 K-D tree decomposition of the first point cloud", flush=True)
    points = dataset.mesh(0).points
    dec = kdtree_decompose(points, size["n_subdomains"], overlap=0.1)
    whole = kdtree_decompose(points, 1)
    counts = np.bincount(dec.labels, minlength=dec.made)
    print(f"   {len(points)} points -> {dec.made} subdomains of {counts.min()} .. {counts.max()} points")
    print(f"   non-uniformity (noise-corrected KL from uniform): whole cloud {whole.kl[0]:.3f}, "
          f"subdomains {', '.join(f'{v:.3f}' for v in dec.kl)}")
    decomposition_png = plot_decomposition(points, dec.labels, dec.boxes, out / "decomposition.png",
                                           halo_boxes=dec.halo_boxes,
                                           title=f"NUNO K-D tree: {dec.made} subdomains of {len(points)} nodes")

    print(f"3/4 training NUNO ({CONFIG.relative_to(ROOT)}) for {epochs} epochs", flush=True)
    config = load_run_config(CONFIG)  # validated, defaults filled in; adapted below
    config["data"]["root"] = str(root)
    config["model"].update(size["model"])
    config["train"].update(epochs=epochs, device="cpu")
    config["out"] = str(out / "nuno")

    def report(row):
        val = row.get("val_rel_l2")
        print(f"   epoch {row['epoch']:>3}: training loss {row['train_loss']:.4f}, validation relative L2 "
              f"{'-' if val is None else f'{val:.4f}'} ({row['seconds']:.1f} s)", flush=True)

    best = train(config, progress=False, on_epoch_end=report)

    print("4/4 predicting the stress of the held-out samples", flush=True)
    _, _, test_set = split_run_data(load_run_config(config))
    result = evaluate(best, test_set, device="cpu", predictions=True, progress=False)
    overall = result["overall"]
    print(f"   {overall['samples']} test samples: relative L2 {overall['rel_l2']:.4f} "
          f"(std {overall['rel_l2_std']:.4f}), MAE {overall['mae']:.4f}")
    errors = [s["rel_l2"] for s in result["samples"]]
    median = int(np.argsort(errors)[len(errors) // 2])
    sample = result["samples"][median]
    position = int(np.flatnonzero(test_set.sample_ids() == sample["sample_id"])[0])
    mesh = test_set.mesh(position)
    pred = sample["pred"].reshape(-1).numpy().astype(np.float64)
    truth = mesh.point_data["von_mises"]
    prediction_png = plot_fields(
        mesh, {"NUNO": pred, "FEM von Mises stress": truth, "error (NUNO - FEM)": pred - truth},
        out / "prediction.png", shared_scale=("NUNO", "FEM von Mises stress"),
        title=f"held-out sample {sample['sample_id']} (median test error, relative L2 {sample['rel_l2']:.3f})")
    (out / "test_result.json").write_text(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))

    print(f"\nwrote {decomposition_png}\nwrote {prediction_png}\nwrote {out / 'test_result.json'}")
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
