"""``graphops predict CKPT MESH``: the field on a new shape, written for ParaView."""
from __future__ import annotations

import argparse
from typing import List, Optional, Sequence


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
    p.add_argument("--source", action="append", default=[],
                   help="Poisson: source term f, formula or point field name (default 0); repeat it with --boundary "
                   "for several queries on the same mesh (the i-th --source goes with the i-th --boundary)")
    p.add_argument("--boundary", action="append", default=[],
                   help="Poisson: boundary values g (Dirichlet value or Neumann flux), formula or point field name; "
                   "repeatable like --source")
    p.add_argument("--queries", default=None, metavar="FILE",
                   help="several queries on the same mesh from a file: YAML/JSON (a list of mappings such as "
                   "{source: 'sin(pi*x)', boundary: 'x*y'}) or CSV (a header row of input names, one query per row; "
                   "empty cells are not given). Query i is written to OUT_00i.vtu (with its PNG and report) and "
                   "OUT.queries.json lists them all")
    p.add_argument("--input", action="append", default=[], metavar="NAME=SPEC",
                   help="any input the model's problem takes, by name: a formula, point field name or number "
                   "(repeatable; --source/--boundary are the Poisson inputs)")
    p.add_argument("-o", "--out", required=True, help="output .vtu (a .png and the out-of-distribution report .ood.json with the same name are written too; with several queries OUT_000.vtu, OUT_001.vtu... and OUT.queries.json)")
    p.add_argument("--compare-fem", action="store_true", help="also solve with the reference FEM solver; write it and the error")
    p.add_argument("--no-png", action="store_true", help="skip the PNG plot")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--no-rescale", action="store_true",
                   help="use the mesh's coordinates as they are (default: map the mesh into the training frame and "
                   "transform the inputs and the output by the problem's similarity law)")
    p.add_argument("--resolution", choices=("native", "training"), default="native",
                   help="native (default): the model runs on the mesh's own graph; training: on a mesh finer than the "
                   "training meshes, on a coarse graph of the part at the training element size, interpolated to the "
                   "mesh nodes (much faster on fine meshes)")
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


def cli_queries(sources: Sequence[str], boundaries: Sequence[str], queries_file: Optional[str]) -> dict:
    """The ``predict`` keywords (``source``, ``boundary``, ``queries``) for repeated flags and ``--queries FILE``.

    One ``--source`` and/or one ``--boundary`` (and no file) is one query, as
    before; several make lists that pair up in order.

    Raises
    ------
    ConfigError
        ``--source`` and ``--boundary`` given different numbers of times (both
        more than zero), or flags together with ``--queries``.
    """
    from ..errors import ConfigError

    if queries_file is not None:
        if sources or boundaries:
            raise ConfigError("give the queries either with --queries FILE or with --source/--boundary, not both "
                              "(shared inputs go in --input NAME=SPEC)")
        return {"queries": read_queries(queries_file)}
    if sources and boundaries and len(sources) != len(boundaries):
        raise ConfigError(f"--source and --boundary pair up query by query: got {len(sources)} --source and "
                          f"{len(boundaries)} --boundary (give each once per query, or one of them not at all)")
    if max(len(sources), len(boundaries)) <= 1:
        return {"source": sources[0] if sources else None, "boundary": boundaries[0] if boundaries else None}
    return {"source": list(sources) or None, "boundary": list(boundaries) or None}


def read_queries(path: str) -> List[dict]:
    """Queries from a YAML/JSON list of mappings or a CSV file with a header row of input names.

    Returns
    -------
    list of dict
        Input name -> formula, point field name or number (empty CSV cells left out).

    Raises
    ------
    ConfigError
        Missing or unreadable file, not a list of mappings, no queries; named with the file.
    """
    import csv
    from pathlib import Path

    import yaml

    from ..errors import ConfigError

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the queries file ({exc.__class__.__name__}: {exc.strerror or exc})", file) from None
    if file.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or any(not (name or "").strip() for name in reader.fieldnames):
            raise ConfigError("a CSV queries file needs a header row of input names (e.g. source,boundary)", file)
        rows = []
        for line, row in enumerate(reader, start=2):
            if None in row:
                raise ConfigError(f"line {line} has more cells than the header has names", file)
            rows.append({k.strip(): v.strip() for k, v in row.items() if v is not None and v.strip()})
    else:
        try:
            rows = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"not valid YAML/JSON: {str(exc).splitlines()[0]}", file) from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) and all(isinstance(k, str) for k in r)
                                                 for r in rows):
            raise ConfigError("a queries file must hold a list of mappings such as "
                              "[{source: 'sin(pi*x)', boundary: 'x*y'}, ...]", file)
        rows = [{k: (v if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v))
                 for k, v in r.items() if v is not None} for r in rows]
    if not rows:
        raise ConfigError("the queries file holds no queries", file)
    return rows


def run(args: argparse.Namespace) -> int:
    from ..io import read_mesh
    from ..predict import predict

    mesh = args.mesh if args.mesh_size is None else read_mesh(args.mesh, mesh_size=args.mesh_size)
    result = predict(
        args.checkpoint, mesh, out=args.out, compare_fem=args.compare_fem, png=not args.no_png, device=args.device,
        inputs=parse_inputs(args.input), rescale=not args.no_rescale, strict=args.strict,
        resolution=args.resolution,
        **cli_queries(args.source, args.boundary, args.queries),
    )
    results = result if isinstance(result, list) else [result]
    common = [note for note in results[0].notes if all(note in res.notes for res in results)]
    for note in common:
        print(f"note: {note}")
    for i, res in enumerate(results):
        prefix = f"query {i}: " if len(results) > 1 else ""
        for note in res.notes:
            if note not in common:
                print(f"{prefix}note: {note}")
        if res.report is not None:
            for line in res.report.lines():
                print(prefix + line)
        print(f"{prefix}predicted {res.mesh.num_points} nodes in {res.seconds * 1000:.1f} ms")
        if res.relative_l2 is not None:
            print(f"{prefix}FEM reference solved in {res.fem_seconds * 1000:.1f} ms; relative L2 error {res.relative_l2:.4f}")
        for kind, path in res.files.items():
            print(f"{prefix}wrote {kind}: {path}")
    if len(results) > 1 and results[0].files:
        from pathlib import Path

        print(f"wrote query index: {Path(args.out).with_suffix('.queries.json')}")
    return 0
