"""Generate a dataset of PDE solutions on random meshes and look at it.

Draws Poisson problems ``-lap u = f`` with Dirichlet data ``u = g`` on unit
squares with 0..4 random rectangular corner cut-outs (the BENO protocol),
meshes them with gmsh and solves them with the reference FEM solver
(:func:`graphops.data.generate_dataset`: sharded, resumable, every sample
seeded by its index). Then reads the dataset back lazily
(:class:`graphops.data.MeshDataset`), splits it by geometry family
(:func:`graphops.data.split_by_family`: train on 4 cut-outs, test on the
others) and writes

- ``data/``: the dataset (``manifest.json`` + ``shards/*.npz``);
- ``gallery.png``: one sample per cut-out count: solution u and boundary values g;
- ``sample_000.png``: source f and solution u of the first sample.

Re-running with the same arguments resumes (finished shards are kept).
Run ``python examples/02_generate_dataset.py`` (about a minute on 2 cores).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

NAME = "02_generate_dataset"


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("examples_output") / NAME, help="output folder")
    ap.add_argument("--small", action="store_true", help="reduced size used by the tests (5 tiny samples)")
    ap.add_argument("--n", type=int, default=None, help="number of samples (default 200, --small 5)")
    ap.add_argument("--workers", type=int, default=None, help="processes drawing samples (default 2, --small 1)")
    return ap.parse_args(argv)


def plot_gallery(dataset, path: Path) -> Path:
    """One column per geometry family (its first sample): solution u, and boundary values g at the boundary nodes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.tri import Triangulation

    families = dataset.families_of_items()
    chosen = [int(np.flatnonzero(families == f)[0]) for f in sorted(set(families.tolist()))]
    fig, axes = plt.subplots(2, len(chosen), figsize=(3.3 * len(chosen), 6.6), squeeze=False)
    for col, i in enumerate(chosen):
        mesh = dataset.mesh(i)
        tri = Triangulation(mesh.points[:, 0], mesh.points[:, 1], mesh.cells["triangle"])
        top, bottom = axes[0, col], axes[1, col]
        art = top.tripcolor(tri, mesh.point_data["u"], shading="gouraud", cmap="viridis")
        top.triplot(tri, color="white", linewidth=0.15, alpha=0.5)
        top.set_title(f"u: {int(families[i])} cut-outs, {mesh.num_points} nodes", fontsize=9)
        fig.colorbar(art, ax=top, shrink=0.7)
        on_boundary = mesh.point_data["bc_dirichlet"].astype(bool)
        bottom.triplot(tri, color="0.85", linewidth=0.2)
        art = bottom.scatter(mesh.points[on_boundary, 0], mesh.points[on_boundary, 1],
                             c=mesh.point_data["g"][on_boundary], s=6, cmap="viridis")
        bottom.set_title("g at the boundary nodes", fontsize=9)
        fig.colorbar(art, ax=bottom, shrink=0.7)
        for ax in (top, bottom):
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("FEM solutions of -lap u = f in the domain, u = g on the boundary")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run(args: argparse.Namespace) -> None:
    from graphops.data import MeshDataset, generate_dataset, read_manifest, split_by_family
    from graphops.viz import plot_fields

    n = args.n or (5 if args.small else 200)
    workers = args.workers or (1 if args.small else 2)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    root = generate_dataset("poisson-dirichlet", n, out / "data", workers=workers, seed=0, tiny=args.small,
                            cutouts=[0, 1, 2, 3, 4], shard_size=16)
    print(f"generated {n} samples in {time.perf_counter() - start:.1f} s -> {root}")
    manifest = read_manifest(root)
    print(f"problem {manifest['problem']}: {manifest['description']}")
    print(f"node fields {manifest['node_fields']}, target {manifest['target']!r}, "
          f"{manifest['num_shards']} shard(s), mesh size {manifest['config']['mesh_size']}")
    nodes = np.asarray(manifest["num_nodes"])
    print(f"nodes per sample: {nodes.min()} .. {nodes.max()} (mean {nodes.mean():.0f})")

    dataset = MeshDataset(root)
    counts = np.bincount(dataset.families_of_items(), minlength=5)
    print("samples per cut-out count: " + ", ".join(f"{k}: {c}" for k, c in enumerate(counts)))
    data = dataset[0]
    print(f"item 0 as a graph: {data}")
    train, val, test = split_by_family(dataset, train_families=[4], test_families=[0, 1, 2, 3], val_fraction=0.2)
    print(f"split by family: train {len(train)}, validation {len(val)} (4 cut-outs), test {len(test)} (0-3 cut-outs)")

    gallery = plot_gallery(dataset, out / "gallery.png")
    mesh = dataset.mesh(0)
    sample_png = plot_fields(mesh, {"source f": mesh.point_data["f"], "solution u (FEM)": mesh.point_data["u"]},
                             out / "sample_000.png", title=f"sample 0: {int(data.family)} cut-outs")
    print(f"\nwrote {gallery}\nwrote {sample_png}")
    print(f"outputs are in {out.resolve()}")


def main(argv=None) -> int:
    from graphops.errors import GraphopsError

    try:
        run(parse_args(argv))
    except GraphopsError as exc:  # e.g. --out holds a dataset made with other arguments
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
