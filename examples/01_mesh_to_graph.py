"""Load a gmsh mesh and inspect the graph graphops builds from it.

Reads ``meshes/plate_with_hole.geo`` (any file :func:`graphops.io.read_mesh`
reads works: ``--mesh``), prints a summary of the mesh (cells, boundary,
physical groups), turns it into a ``torch_geometric`` graph with
:func:`graphops.graph.mesh_to_graph` and prints what the graph holds (node and
edge features, degrees, boundary features). Writes

- ``graph.png``: the graph's edges with the boundary nodes and their outward
  normals, and the distance-to-boundary node feature;
- ``mesh_with_features.vtu``: the mesh with the boundary features as point
  data (open it in ParaView);
- ``graph.pt``: the graph itself (``torch.load(path, weights_only=False)``).

Run ``python examples/01_mesh_to_graph.py`` (a few seconds).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NAME = "01_mesh_to_graph"


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("examples_output") / NAME, help="output folder")
    ap.add_argument("--small", action="store_true",
                    help="reduced size used by the tests (this example is small already: same run)")
    ap.add_argument("--mesh", type=Path, default=ROOT / "meshes" / "plate_with_hole.geo",
                    help="mesh file to load (default meshes/plate_with_hole.geo)")
    ap.add_argument("--radius", type=float, default=None,
                    help="also connect nodes closer than this (BENO's small ball); default: mesh edges only")
    return ap.parse_args(argv)


def plot_graph(data, path: Path, title: str) -> Path:
    """Two panels: edges + boundary nodes + normals; nodes coloured by distance to the boundary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    pos = data.pos.numpy()[:, :2]
    edges = data.edge_index.numpy()
    mask = data.boundary_mask.numpy()
    normal = data.boundary_normal.numpy()[:, :2]
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 5))
    ax0.add_collection(LineCollection(pos[edges.T], colors="0.6", linewidths=0.4))
    ax0.scatter(pos[~mask, 0], pos[~mask, 1], s=3, c="tab:blue", label="interior node")
    ax0.scatter(pos[mask, 0], pos[mask, 1], s=8, c="tab:red", label="boundary node")
    ax0.quiver(pos[mask, 0], pos[mask, 1], normal[mask, 0], normal[mask, 1], color="tab:red",
               scale=25, width=0.003, label="outward normal")
    ax0.set_title(f"{data.num_nodes} nodes, {edges.shape[1] // 2} undirected edges")
    ax0.legend(loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=3, fontsize=8)
    art = ax1.scatter(pos[:, 0], pos[:, 1], c=data.boundary_distance.numpy(), s=8, cmap="viridis")
    fig.colorbar(art, ax=ax1, shrink=0.8, label="distance to the boundary")
    ax1.set_title("node feature: distance to the boundary")
    for ax in (ax0, ax1):
        ax.set_aspect("equal")
        ax.autoscale_view()
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    args = parse_args(argv)
    from graphops.errors import GraphopsError
    from graphops.inspect import format_summary, mesh_summary
    from graphops.io import read_mesh, write_mesh

    try:  # a missing or broken file is a one-line error, not a traceback
        mesh = read_mesh(args.mesh)
    except GraphopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import torch  # after reading: torch takes a while to import

    from graphops.graph import mesh_to_graph

    torch.set_num_threads(1)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    print("== the mesh ==")
    print(format_summary(mesh_summary(mesh)))

    data = mesh_to_graph(mesh, radius=args.radius)
    degree = torch.bincount(data.edge_index[0], minlength=data.num_nodes).numpy()
    print("\n== the graph ==")
    print(data)
    print(f"nodes {data.num_nodes}, directed edges {data.edge_index.shape[1]} (each mesh edge both ways)")
    print(f"degree: min {degree.min()}, mean {degree.mean():.2f}, max {degree.max()}")
    print(f"x (N, {data.x.shape[1]}) = [position, boundary flag, distance to boundary]")
    print(f"edge_attr (E, {data.edge_attr.shape[1]}) = [pos[src] - pos[dst], length]; "
          f"edge lengths {data.edge_attr[:, -1].min():.4f} .. {data.edge_attr[:, -1].max():.4f}")
    print(f"boundary nodes {int(data.boundary_mask.sum())}, "
          f"largest distance to the boundary {float(data.boundary_distance.max()):.4f}")

    name = Path(mesh.source).name if mesh.source else args.mesh.name
    png = plot_graph(data, out / "graph.png", f"mesh_to_graph({name})")
    vtu = write_mesh(out / "mesh_with_features.vtu", mesh, point_data={
        "boundary": data.boundary_mask.numpy().astype(np.int64),
        "boundary_normal": data.boundary_normal.numpy().astype(np.float64),
        "boundary_distance": data.boundary_distance.numpy().astype(np.float64),
        "degree": degree.astype(np.int64),
    })
    graph_file = out / "graph.pt"
    torch.save(data, graph_file)
    print(f"\nwrote {png}\nwrote {vtu}\nwrote {graph_file}")
    print(f"outputs are in {out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
