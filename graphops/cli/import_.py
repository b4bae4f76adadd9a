"""``graphops import FILES... --out DIR``: a dataset from your own simulation results (resumable)."""
from __future__ import annotations

import argparse

#: Options that build a spec on the command line (argparse destinations) -> spec keys.
SPEC_OPTIONS = {"inputs": "inputs", "targets": "targets", "scalars": "scalars", "scalars_csv": "scalars_csv",
                "family": "family"}
BOUNDARY_OPTIONS = {"boundary_groups": "groups", "boundary_marker": "marker", "boundary_values": "values"}


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser(
        "import",
        help="import your own simulation result files (.vtu .xdmf .msh .inp ...) as a training dataset",
        description="Read mesh files with point data written by any solver and write DIR/manifest.json plus "
        "DIR/shards/*.npz, the dataset layout graphops train, evaluate and predict read. A spec names the point "
        "fields that are inputs and targets (scalar or vector), optional per-sample scalars and the boundary "
        "that carries prescribed values: a YAML file (--spec) or the options below. Bad files are listed one per "
        "line (file: problem); already imported shards are kept, and the same command resumes.",
    )
    p.add_argument("files", nargs="+",
                   help="mesh files, folders or glob patterns (quote them), or one time-series .xdmf (one sample "
                   "per time step)")
    p.add_argument("--out", required=True, help="output dataset folder")
    p.add_argument("--spec", default=None, help="YAML import spec (see docs/guide/own-data.md)")
    spec = p.add_argument_group("spec on the command line (instead of --spec)")
    spec.add_argument("--inputs", default=None, help="input point fields, comma-separated (e.g. k,q)")
    spec.add_argument("--targets", default=None, help="target point fields, comma-separated (e.g. T or displacement)")
    spec.add_argument("--scalars", default=None, help="per-sample scalars (field data or --scalars-csv columns)")
    spec.add_argument("--scalars-csv", default=None, help="CSV with a column 'file' and one column per scalar")
    spec.add_argument("--family", default=None, help="scalar giving each sample's family (for train/test splits)")
    spec.add_argument("--boundary-groups", default=None, help="physical groups of the marked boundary, comma-separated")
    spec.add_argument("--boundary-marker", default=None, help="point field marking the boundary nodes (non-zero)")
    spec.add_argument("--boundary-values", default=None, help="point field of the prescribed boundary values")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--shard-size", type=int, default=32, help="samples per shard file (default 32)")
    p.add_argument("--skip-bad", action="store_true",
                   help="report bad files and import the rest (default: stop and list them)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def command_line_spec(args: argparse.Namespace):
    """The spec of ``--spec`` or of the spec options (ConfigError when both or neither are given)."""
    from ..data.import_spec import load_spec, parse_spec
    from ..errors import ConfigError

    raw = {key: getattr(args, dest) for dest, key in SPEC_OPTIONS.items() if getattr(args, dest) is not None}
    boundary = {key: getattr(args, dest) for dest, key in BOUNDARY_OPTIONS.items() if getattr(args, dest) is not None}
    if "groups" in boundary:
        boundary["groups"] = [g.strip() for g in boundary["groups"].split(",") if g.strip()]
    if boundary:
        raw["boundary"] = boundary
    if args.spec is not None:
        if raw:
            flag = "--" + next(d for d in list(SPEC_OPTIONS) + list(BOUNDARY_OPTIONS)
                               if getattr(args, d) is not None).replace("_", "-")
            raise ConfigError(f"{flag} and --spec both give the spec; put everything in the YAML file")
        return load_spec(args.spec)
    if "targets" not in raw:
        raise ConfigError("name the target point fields: --targets NAME[,NAME] or a YAML --spec")
    return parse_spec(raw)


def run(args: argparse.Namespace) -> int:
    import json

    from ..data.importer import import_dataset

    out = import_dataset(args.files, command_line_spec(args), args.out, workers=args.workers,
                         shard_size=args.shard_size, skip_bad=args.skip_bad, progress=not args.quiet)
    manifest = json.loads((out / "manifest.json").read_text())
    for entry in manifest.get("skipped", []):
        print(f"skipped {entry['problem']}")
    ch = manifest["channels"]
    print(f"imported {len(manifest['indices'])} of {manifest['n']} sample(s), {ch['dim']}D: "
          f"{ch['in_channels']} input channel(s), {ch['out_channels']} target channel(s)")
    print(f"dataset ready: {out}")
    return 0
