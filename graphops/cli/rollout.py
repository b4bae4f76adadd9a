"""``graphops rollout CKPT INITIAL --steps N -o OUT``: particle dynamics from your own particle set."""
from __future__ import annotations

import argparse


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser(
        "rollout",
        help="roll a trained particle model (giorom, gns) out from your own particle set",
        description="Predict N frames of particle motion from an initial particle set (any point-cloud or mesh file; "
        "optional point fields 'velocity' in m/s and 'material' ids) with a trained giorom or gns checkpoint. "
        "Writes OUT/frame_0000.vtu ..., OUT/rollout.pvd (open it in ParaView) and OUT/rollout.gif.",
    )
    p.add_argument("checkpoint", help="giorom or gns checkpoint (.pt)")
    p.add_argument("initial", help="initial particles (.vtu .vtk .npy .csv .xyz .ply .msh ...)")
    p.add_argument("--steps", type=int, required=True, help="number of frames to predict")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--query", default=None,
                   help="points (file) where the decoded motion is written instead of the particles (giorom)")
    p.add_argument("--no-animation", action="store_true", help="skip rollout.gif")
    p.add_argument("--every", type=int, default=1, help="animate every k-th frame (default 1)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..rollout import rollout

    if args.steps < 0:
        raise ConfigError(f"--steps must be >= 0, got {args.steps}")
    if args.every < 1:
        raise ConfigError(f"--every must be >= 1, got {args.every}")
    result = rollout(args.checkpoint, args.initial, args.steps, args.out, query_points=args.query,
                     animation=not args.no_animation, every=args.every, device=args.device,
                     progress=not args.quiet)
    n_frames, n_points = result.positions.shape[:2]
    print(f"{result.model_name}: {n_frames - 1} steps of {n_points} points in {result.seconds:.2f} s")
    print(f"wrote {len(result.frames)} frames and {result.pvd}")
    for path in result.animation[:1]:
        more = len(result.animation) - 1
        print(f"wrote animation: {path}" + (f" (+{more} more)" if more else ""))
    return 0
