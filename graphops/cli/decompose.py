"""``graphops decompose CLOUD --n 8 -o parts.vtu``: NUNO K-D tree decomposition of a point cloud or mesh.

Writes the points (with the mesh's cells, if any) and a ``subdomain`` point
field to ``-o`` for ParaView, the subdomain boxes as quads (2D) or hexahedra
(3D) with a ``subdomain`` cell field to ``<stem>_boxes<suffix>``, and a PNG
(``--png``, default ``<stem>.png``) of the points coloured by subdomain.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Tuple

import numpy as np


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser(
        "decompose",
        help="split a point cloud into K-D tree subdomains (NUNO)",
        description="Split a mesh or point cloud where it is least uniform (NUNO K-D tree) and write the "
                    "subdomain labels and boxes for ParaView, plus a PNG.",
    )
    p.add_argument("cloud", help="mesh or point cloud (.npy .csv .xyz .vtu .msh ...)")
    p.add_argument("--n", type=int, default=8, help="subdomains wanted (default 8)")
    p.add_argument("-o", "--output", required=True, help="output mesh file with a 'subdomain' point field (.vtu ...)")
    p.add_argument("--png", default=None, help="PNG of the subdomains (default: OUTPUT with .png)")
    p.add_argument("--no-png", action="store_true", help="do not draw the PNG")
    p.add_argument("--overlap", type=float, default=0.0, help="halo of each box as a fraction of its extent")
    p.add_argument("--min-points", type=int, default=8, help="points each subdomain keeps at least (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the point sampling of large nodes")
    p.set_defaults(func=run)


def boxes_mesh(boxes: np.ndarray):
    """The boxes (S, 2, d) as a :class:`~graphops.mesh.Mesh` of quads (2D) or hexahedra (3D), VTK node order.

    Cell field ``subdomain`` (S,) holds each box's index.
    """
    from ..mesh import Mesh

    boxes = np.asarray(boxes, dtype=np.float64)
    s, _, d = boxes.shape
    if d == 2:
        corners = [(0, 0), (1, 0), (1, 1), (0, 1)]
        ctype = "quad"
    else:
        corners = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)]
        ctype = "hexahedron"
    pick = np.asarray(corners)  # (k, d): 0 = lower, 1 = upper corner along each axis
    points = boxes[:, pick, np.arange(d)]  # (S, k, d)
    k = len(corners)
    cells = np.arange(s * k, dtype=np.int64).reshape(s, k)
    return Mesh(points.reshape(-1, d), {ctype: cells}, cell_data={"subdomain": {ctype: np.arange(s, dtype=np.int64)}})


def output_paths(output: str, png: str = None) -> Tuple[Path, Path, Path]:
    """``(points file, boxes file, png)`` for an ``-o`` argument."""
    out = Path(output)
    boxes = out.with_name(f"{out.stem}_boxes{out.suffix}")
    return out, boxes, Path(png) if png else out.with_suffix(".png")


def run(args: argparse.Namespace) -> int:
    from ..decomposition import DecompositionWarning, kdtree_decompose
    from ..errors import ConfigError
    from ..io import read_mesh, write_mesh

    if args.n < 1:
        raise ConfigError(f"--n must be at least 1, got {args.n}")
    out, boxes_path, png = output_paths(args.output, args.png)
    mesh = read_mesh(args.cloud)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DecompositionWarning)
        dec = kdtree_decompose(mesh.points, args.n, overlap=args.overlap, min_points=args.min_points, seed=args.seed)
    for w in caught:
        if not issubclass(w.category, DecompositionWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    write_mesh(out, mesh, point_data={"subdomain": dec.labels.astype(np.int64)})
    write_mesh(boxes_path, boxes_mesh(dec.halo_boxes if args.overlap > 0 else dec.boxes))
    written = [out, boxes_path]
    if not args.no_png:
        from ..viz.decomposition import plot_decomposition

        plot_decomposition(mesh.points, dec.labels, dec.boxes, png, halo_boxes=dec.halo_boxes,
                           title=f"{Path(args.cloud).name}: {dec.made} subdomains")
        written.append(png)
    counts = dec.counts()
    print(f"made {dec.made} subdomains (requested {dec.requested}) from {len(dec.labels)} points; "
          f"points per subdomain {int(counts.min())}..{int(counts.max())}")
    if dec.made < dec.requested:
        print(f"graphops: warning: {dec.message}", file=sys.stderr)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
