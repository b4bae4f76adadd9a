"""``graphops generate``: write a dataset of solved PDE samples or MPM particle trajectories (resumable)."""
from __future__ import annotations

import argparse
from typing import Sequence

#: The problem that simulates particle trajectories (graphops.data.trajectories) instead of solving a PDE.
TRAJECTORY_PROBLEM = "mpm-trajectories"
#: Options of the PDE problems and of mpm-trajectories (argparse destinations); each refuses the other's.
PDE_OPTIONS = ("cutouts", "mesh_size", "order", "coefficient", "aspect")
TRAJECTORY_OPTIONS = ("frames", "frame_dt", "particles", "dim", "materials")


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser(
        "generate",
        help="generate a dataset of meshes with reference solutions, or of particle trajectories",
        description="Draw random geometries and inputs, solve them with the reference finite-element solver and "
        "write DIR/manifest.json plus DIR/shards/*.npz. With --problem mpm-trajectories, simulate random MLS-MPM "
        "scenes (jelly, fluid, sand) instead: the training data of graphops train with a giorom or gns model. "
        "Re-running the same command resumes an interrupted run.",
    )
    p.add_argument("--problem", required=True,
                   help="problem name (poisson-dirichlet, poisson-neumann, poisson-mixed, elasticity-holes, "
                   "elasticity-small-hole, "
                   f"{TRAJECTORY_PROBLEM})")
    p.add_argument("--n", type=int, required=True, help="number of samples (trajectories)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--tiny", action="store_true",
                   help="small samples for tests (meshes of about 200-500 nodes; 200 particles, 24 frames)")
    p.add_argument("--shard-size", type=int, default=None,
                   help=f"samples per shard file (default 32; {TRAJECTORY_PROBLEM} 4)")
    pde = p.add_argument_group("PDE problems")
    pde.add_argument("--cutouts", default=None, help="cut-out counts to draw from, e.g. 4 or 0,1,2,3 (Poisson)")
    pde.add_argument("--mesh-size", default=None,
                     help="target element size, or a range low,high drawn per sample (problem default otherwise)")
    pde.add_argument("--aspect", default=None,
                     help="longest over shortest side of the domain, or a range low,high drawn per sample "
                          "(Poisson cut-out problems; default 1: the unit square)")
    pde.add_argument("--order", type=int, default=None, help="finite-element order 1 or 2 (Poisson)")
    pde.add_argument("--coefficient", choices=("constant", "random"), default=None,
                     help="diffusion coefficient a (Poisson)")
    mpm = p.add_argument_group(TRAJECTORY_PROBLEM)
    mpm.add_argument("--frames", type=int, default=None, help="frames per trajectory (default 100; tiny 24)")
    mpm.add_argument("--frame-dt", type=float, default=None, help="seconds between frames (default 0.01)")
    mpm.add_argument("--particles", type=int, default=None, help="particles per trajectory (default 2000; tiny 200)")
    mpm.add_argument("--dim", type=int, choices=(2, 3), default=None, help="2 or 3 (default 2)")
    mpm.add_argument("--materials", default=None,
                     help="materials to draw from, comma-separated: jelly,fluid,sand (default all)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _refuse(args: argparse.Namespace, options: Sequence[str], owner: str) -> None:
    """ConfigError when an option of another kind of problem was given."""
    from ..errors import ConfigError

    given = [name for name in options if getattr(args, name) is not None]
    if given:
        flag = "--" + given[0].replace("_", "-")
        raise ConfigError(f"{flag} is an option of {owner}, not of --problem {args.problem}")


def _pde(args: argparse.Namespace):
    from ..data import generate_dataset

    _refuse(args, TRAJECTORY_OPTIONS, f"--problem {TRAJECTORY_PROBLEM}")
    options = {"cutouts": args.cutouts, "mesh_size": args.mesh_size, "order": args.order,
               "coefficient": args.coefficient, "aspect": args.aspect}
    return generate_dataset(args.problem, args.n, args.out, workers=args.workers, seed=args.seed, tiny=args.tiny,
                            shard_size=32 if args.shard_size is None else args.shard_size,
                            progress=not args.quiet, **{k: v for k, v in options.items() if v is not None})


def _trajectories(args: argparse.Namespace):
    from ..data.trajectories import DEFAULT_SHARD_SIZE, generate_trajectories

    _refuse(args, PDE_OPTIONS, "the PDE problems")
    scene = {"n_particles": args.particles, "dim": args.dim}
    if args.materials is not None:
        scene["materials"] = [m.strip() for m in args.materials.split(",") if m.strip()]
    return generate_trajectories(args.n, args.out, seed=args.seed, tiny=args.tiny, workers=args.workers,
                                 shard_size=DEFAULT_SHARD_SIZE if args.shard_size is None else args.shard_size,
                                 n_frames=args.frames, frame_dt=args.frame_dt, progress=not args.quiet,
                                 **{k: v for k, v in scene.items() if v is not None})


def run(args: argparse.Namespace) -> int:
    from ..tasks import decide_task

    task = decide_task(problem=args.problem, command="generate")
    out = {"fields": _pde, "particles": _trajectories}[task.name](args)
    print(f"dataset ready: {out}")
    return 0
