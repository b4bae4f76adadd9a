"""``graphops predict CKPT MESH``: the field on a new shape, written for ParaView."""
from __future__ import annotations

import argparse


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser(
        "predict",
        help="predict the field on your own mesh with a trained checkpoint",
        description="Predict the solution on a mesh file with a trained model; write a VTU (prediction as point "
        "data) and a PNG. Poisson models: source and boundary values are formulas in x, y, z (e.g. 'sin(pi*x)*y') "
        "or names of point fields of the mesh. elasticity-holes models: the von Mises stress of a 2D mesh under "
        "the training loading (bottom of the bounding box clamped, top pulled); --source/--boundary do not apply. "
        "Formulas are in the mesh's own coordinates and units: the mesh is mapped into the training data's frame "
        "and the inputs and output transformed by the problem's similarity law (--no-rescale: off). Quantities "
        "outside the training ranges are printed and written to OUT.ood.json (--strict: an error).",
    )
    p.add_argument("checkpoint", help="checkpoint written by graphops train (best.pt)")
    p.add_argument("mesh", help="mesh file or CAD part (.msh .geo .vtu .inp .step .iges .brep ...)")
    p.add_argument("--mesh-size", type=float, default=None, metavar="H",
                   help="CAD files: largest element size, in the part's units (default: bounding-box diagonal / 50)")
    p.add_argument("--source", default=None, help="Poisson: source term f, formula or point field name (default 0)")
    p.add_argument("--boundary", default=None, help="Poisson: boundary values g (Dirichlet value or Neumann flux), formula or point field name")
    p.add_argument("--input", action="append", default=[], metavar="NAME=SPEC",
                   help="any input the model's problem takes, by name: a formula, point field name or number "
                   "(repeatable; --source/--boundary are the Poisson inputs)")
    p.add_argument("-o", "--out", required=True, help="output .vtu (a .png and the out-of-distribution report .ood.json with the same name are written too)")
    p.add_argument("--compare-fem", action="store_true", help="also solve with the reference FEM solver; write it and the error")
    p.add_argument("--no-png", action="store_true", help="skip the PNG plot")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--no-rescale", action="store_true",
                   help="use the mesh's coordinates as they are (default: map the mesh into the training frame and "
                   "transform the inputs and the output by the problem's similarity law)")
    p.add_argument("--strict", action="store_true",
                   help="fail when the input lies outside the training data (default: warn and write the report)")
    p.set_defaults(func=run)


def parse_inputs(items) -> dict:
    """``["name=spec", ...]`` -> ``{"name": "spec"}``; ConfigError on an item without ``=``."""
    from ..errors import ConfigError

    inputs = {}
    for item in items:
        name, sep, spec = item.partition("=")
        if not sep or not name.strip() or not spec.strip():
            raise ConfigError(f"--input must look like NAME=FORMULA (e.g. --input 'source=sin(pi*x)'), got {item!r}")
        inputs[name.strip()] = spec.strip()
    return inputs


def run(args: argparse.Namespace) -> int:
    from ..io import read_mesh
    from ..predict import predict

    mesh = args.mesh if args.mesh_size is None else read_mesh(args.mesh, mesh_size=args.mesh_size)
    result = predict(
        args.checkpoint, mesh, source=args.source, boundary=args.boundary, out=args.out,
        compare_fem=args.compare_fem, png=not args.no_png, device=args.device, inputs=parse_inputs(args.input),
        rescale=not args.no_rescale, strict=args.strict,
    )
    for note in result.notes:
        print(f"note: {note}")
    if result.report is not None:
        for line in result.report.lines():
            print(line)
    print(f"predicted {result.mesh.num_points} nodes in {result.seconds * 1000:.1f} ms")
    if result.relative_l2 is not None:
        print(f"FEM reference solved in {result.fem_seconds * 1000:.1f} ms; relative L2 error {result.relative_l2:.4f}")
    for kind, path in result.files.items():
        print(f"wrote {kind}: {path}")
    return 0
