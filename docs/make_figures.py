"""Draw the PNG figures of the documentation into docs/figures/ with small real computations.

Run: .venv/bin/python docs/make_figures.py [--demo demo_output] [--only NAME ...]

Every figure comes from the library itself (gmsh meshes, the FEM solver, the
graph builder, the K-D tree decomposition, the MPM simulator, farthest point
sampling) at small sizes, in about a minute on one core. The BENO prediction
figures need the output of ``make demo`` (``--demo``, default ``demo_output/``):
without it they are skipped and the PNGs already in docs/figures/ are kept.
Files are palette-quantised so each stays well under 200 kB.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIGURES = Path(__file__).resolve().parent / "figures"
MAX_BYTES = 200_000

#: Source and boundary formulas of the FEM example (same style as the demo's).
SOURCE = "8*exp(-((x-0.3)**2 + (y-0.7)**2)/0.02) - 6*exp(-((x-0.7)**2 + (y-0.3)**2)/0.03)"
BOUNDARY = "0.5 + x - y**2 + 0.3*sin(2*pi*(x + y))"


def shrink_png(path: Path, colors: int = 128) -> Path:
    """Re-save ``path`` as a palette PNG (adaptive palette) and check it is under MAX_BYTES."""
    from PIL import Image

    with Image.open(path) as image:
        quantised = image.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    quantised.save(path, optimize=True)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{path}: {size} bytes, more than {MAX_BYTES}; make the figure smaller")
    return path


def graph_features() -> List[Path]:
    """A BENO-protocol domain as a graph: edges, boundary nodes with their outward normals, distance to the boundary."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    from graphops.geometry import cutout_square
    from graphops.graph import mesh_to_graph

    mesh = cutout_square(seed=3, mesh_size=0.06, num_cutouts=4)
    data = mesh_to_graph(mesh)
    pos = data.pos.numpy()
    edges = data.edge_index.numpy()
    on_boundary = data.boundary_mask.numpy().astype(bool)
    normal = data.boundary_normal.numpy()
    fig = Figure(figsize=(10.0, 4.6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 2, 1)
    ax.add_collection(LineCollection(pos[edges.T], colors="0.7", linewidths=0.5))
    ax.scatter(pos[~on_boundary, 0], pos[~on_boundary, 1], s=4, c="0.3", linewidths=0)
    ax.scatter(pos[on_boundary, 0], pos[on_boundary, 1], s=8, c="tab:red", linewidths=0)
    ax.quiver(pos[on_boundary, 0], pos[on_boundary, 1], normal[on_boundary, 0], normal[on_boundary, 1],
              color="tab:red", scale=30, width=0.003)
    ax.set_title("edges, boundary nodes and outward normals")
    ax2 = fig.add_subplot(1, 2, 2)
    art = ax2.scatter(pos[:, 0], pos[:, 1], s=10, c=data.boundary_distance.numpy(), cmap="viridis", linewidths=0)
    fig.colorbar(art, ax=ax2, shrink=0.8)
    ax2.set_title("distance to the boundary")
    for a in (ax, ax2):
        a.set_aspect("equal")
        a.set_xlim(-0.08, 1.08)
        a.set_ylim(-0.08, 1.08)
        a.set_xticks([])
        a.set_yticks([])
    fig.suptitle(f"mesh_to_graph: {data.num_nodes} nodes, {data.num_edges} directed edges")
    fig.tight_layout()
    path = FIGURES / "graph_features.png"
    fig.savefig(path, dpi=100)
    return [path]


def poisson_sample() -> List[Path]:
    """One sample of the BENO protocol: source f, boundary values g, FEM solution u."""
    from graphops.boundary import boundary_nodes
    from graphops.expressions import evaluate_expression
    from graphops.geometry import cutout_square
    from graphops.solvers import solve_poisson
    from graphops.viz import plot_fields

    mesh = cutout_square(seed=7, mesh_size=0.04, num_cutouts=4)
    f = evaluate_expression(SOURCE, mesh.points, "source")
    g = evaluate_expression(BOUNDARY, mesh.points, "boundary")
    u = solve_poisson(mesh, f=f, dirichlet="all", g=g)
    path = FIGURES / "poisson_sample.png"
    # g as the datasets store it: the boundary values on boundary nodes, zero inside
    plot_fields(mesh, {"source f": f, "boundary values g": np.where(boundary_nodes(mesh), g, 0.0),
                       "FEM solution u": u}, path)
    return [path]


def beno_predictions(demo: Path) -> List[Path]:
    """BENO vs FEM on the shipped shapes, read from the VTU files ``make demo`` wrote."""
    from graphops.io import read_mesh
    from graphops.viz import plot_fields

    files = sorted((demo / "predictions").glob("*.vtu"))
    if not files:
        print(f"  no {demo}/predictions/*.vtu (run `make demo`): keeping the BENO prediction figures", file=sys.stderr)
        return []
    out = []
    for file in files:
        mesh = read_mesh(file)
        fields = {k: mesh.point_data[k] for k in ("prediction", "fem", "error") if k in mesh.point_data}
        if "prediction" not in fields:
            continue
        path = FIGURES / f"beno_{file.stem}.png"
        plot_fields(mesh, fields, path, title=f"BENO on {file.stem} (never seen in training) vs FEM",
                    shared_scale=("prediction", "fem"))
        out.append(path)
    return out


def elasticity_sample() -> List[Path]:
    """The NUNO elasticity geometry: graded mesh of a unit cell with a void, von Mises stress."""
    from graphops.geometry import unit_cell_with_void
    from graphops.solvers import solve_elasticity
    from graphops.viz import plot_fields

    mesh = unit_cell_with_void(seed=2)
    sol = solve_elasticity(mesh, fixed="bottom", traction="top", traction_value=[0.0, 0.1])  # as elasticity-holes
    path = FIGURES / "elasticity_sample.png"
    plot_fields(mesh, {"von Mises stress": sol.von_mises}, path,
                title=f"unit cell with a void: {mesh.num_points} graded nodes")
    return [path]


def nuno_decomposition() -> List[Path]:
    """K-D tree split of the graded unit-cell points into 8 subdomains (with a 10 % halo)."""
    from graphops.decomposition import kdtree_decompose
    from graphops.geometry import unit_cell_with_void
    from graphops.viz import plot_decomposition

    points = unit_cell_with_void(seed=2).points
    dec = kdtree_decompose(points, 8, overlap=0.1)
    path = FIGURES / "nuno_decomposition.png"
    plot_decomposition(points, dec.labels, dec.boxes, path, halo_boxes=dec.halo_boxes,
                       title=f"kdtree_decompose: {len(points)} points, {dec.made} subdomains")
    return [path]


def giorom_sampling() -> List[Path]:
    """An MPM trajectory: all particles at three frames, the farthest-point samples GIOROM steps."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from graphops.sampling import farthest_point_sampling
    from graphops.solvers.mpm import MATERIAL_IDS, simulate_trajectory

    traj = simulate_trajectory({"n_particles": 2000}, seed=1, n_frames=41)
    pos, bounds = traj["positions"], traj["bounds"]
    idx = farthest_point_sampling(pos[0], 200)
    fig = Figure(figsize=(11.0, 3.8))
    FigureCanvasAgg(fig)
    colours = ["tab:blue", "tab:orange", "tab:green"]
    for k, frame in enumerate((0, 20, 40)):
        ax = fig.add_subplot(1, 3, k + 1)
        for name, mid in MATERIAL_IDS.items():
            here = traj["material"] == mid
            if here.any():
                ax.scatter(pos[frame, here, 0], pos[frame, here, 1], s=1.5, color=colours[mid], alpha=0.5,
                           linewidths=0, label=name)
        ax.scatter(pos[frame, idx, 0], pos[frame, idx, 1], s=7, c="black", linewidths=0, label="samples")
        if k == 0:
            ax.legend(loc="upper left", markerscale=4, fontsize=8)
        ax.set_xlim(bounds[0, 0], bounds[1, 0])
        ax.set_ylim(bounds[0, 1], bounds[1, 1])
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"t = {float(traj['times'][frame]):.2f} s")
    fig.suptitle(f"MLS-MPM: {pos.shape[1]} particles; black: {len(idx)} farthest-point samples")
    fig.tight_layout()
    path = FIGURES / "giorom_sampling.png"
    fig.savefig(path, dpi=100)
    return [path]


def main(argv=None) -> int:
    figures: Dict[str, Callable[[], List[Path]]] = {
        "graph_features": graph_features,
        "poisson_sample": poisson_sample,
        "elasticity_sample": elasticity_sample,
        "nuno_decomposition": nuno_decomposition,
        "giorom_sampling": giorom_sampling,
    }
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=ROOT / "demo_output", help="output folder of `make demo`")
    parser.add_argument("--only", nargs="*", choices=[*figures, "beno_predictions"], help="draw only these")
    args = parser.parse_args(argv)
    import torch
    from tqdm.auto import tqdm

    torch.set_num_threads(1)
    FIGURES.mkdir(exist_ok=True)
    figures["beno_predictions"] = lambda: beno_predictions(args.demo)
    names = args.only or list(figures)
    for name in tqdm(names, desc="figures", unit="figure"):
        for path in figures[name]():
            shrink_png(path)
            tqdm.write(f"  wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
