"""``graphops generate``: write a dataset of solved PDE samples (resumable)."""
from __future__ import annotations

import argparse


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser(
        "generate",
        help="generate a dataset of meshes, random inputs and reference solutions",
        description="Draw random geometries and inputs, solve them with the reference finite-element solver and "
        "write DIR/manifest.json plus DIR/shards/*.npz. Re-running the same command resumes an interrupted run.",
    )
    p.add_argument("--problem", required=True, help="problem name (poisson-dirichlet, poisson-neumann, poisson-mixed, elasticity-holes)")
    p.add_argument("--n", type=int, required=True, help="number of samples")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--tiny", action="store_true", help="small meshes (about 200-500 nodes) for tests")
    p.add_argument("--shard-size", type=int, default=32, help="samples per shard file (default 32)")
    p.add_argument("--cutouts", default=None, help="cut-out counts to draw from, e.g. 4 or 0,1,2,3 (Poisson problems)")
    p.add_argument("--mesh-size", type=float, default=None, help="target element size (problem default otherwise)")
    p.add_argument("--order", type=int, default=None, help="finite-element order 1 or 2 (Poisson problems)")
    p.add_argument("--coefficient", choices=("constant", "random"), default=None, help="diffusion coefficient a (Poisson problems)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data import generate_dataset

    options = {"cutouts": args.cutouts, "mesh_size": args.mesh_size, "order": args.order, "coefficient": args.coefficient}
    out = generate_dataset(
        args.problem,
        args.n,
        args.out,
        workers=args.workers,
        seed=args.seed,
        tiny=args.tiny,
        shard_size=args.shard_size,
        progress=not args.quiet,
        **{k: v for k, v in options.items() if v is not None},
    )
    print(f"dataset ready: {out}")
    return 0
