"""``graphops info FILE``: what is in a mesh or point cloud file."""
from __future__ import annotations

import argparse
import json


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("info", help="summarise a mesh or point cloud file", description="Print points, cells by type, boundary nodes, physical groups and bounding box of a mesh file.")
    p.add_argument("file", help="mesh, CAD part or point cloud (.msh .geo .vtu .inp .xdmf .step .iges .brep .npy .csv ...)")
    p.add_argument("--mesh-size", type=float, default=None, metavar="H",
                   help="CAD files: largest element size, in the part's units (default: bounding-box diagonal / 50)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..inspect import format_summary, mesh_summary
    from ..io import read_mesh

    info = mesh_summary(read_mesh(args.file, mesh_size=args.mesh_size))
    print(json.dumps(info, indent=2) if args.json else format_summary(info))
    return 0
