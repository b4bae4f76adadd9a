"""``graphops evaluate CKPT DATA``: relative L2 and MAE of a trained model, per family."""
from __future__ import annotations

import argparse
import json
from typing import List


def _families(text: str) -> List[int]:
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 0,1,2, got {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 0, got {text!r}")
    return values


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser(
        "evaluate",
        help="relative L2 and MAE of a checkpoint on a dataset (rollout MSE for giorom, gns)",
        description="Evaluate a trained checkpoint on a generated dataset; print a table per family "
        "(samples, relative L2, MAE) and optionally write it as JSON. On a trajectory dataset "
        "(--problem mpm-trajectories) a giorom or gns checkpoint is rolled out from the first frames of "
        "every trajectory instead: the table gives the position MSE per number of objects.",
    )
    p.add_argument("checkpoint", help="checkpoint written by graphops train (best.pt; model.pt for giorom, gns)")
    p.add_argument("data", help="dataset folder written by graphops generate")
    p.add_argument("--families", type=_families, help="only these families, e.g. 0,1,2,3,4")
    p.add_argument("--json", dest="json_out", metavar="FILE", help="also write the results (with per-sample errors) here")
    p.add_argument("--batch-size", type=int, default=8, help="graphs per batch (default 8)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--steps", type=int, default=None,
                   help="rollout length on a trajectory dataset (default: to the end of each trajectory)")
    p.set_defaults(func=run)


def _is_trajectory_dataset(root: str) -> bool:
    from ..data import read_manifest
    from ..data.trajectories import PROBLEM
    from ..errors import GraphopsError

    try:
        return read_manifest(root).get("problem") == PROBLEM
    except GraphopsError:
        return False  # the mesh path reports what is wrong with the folder


def _evaluate_dynamics(args: argparse.Namespace) -> dict:
    from ..train.dynamics import evaluate_dynamics, format_rollout_table

    result = evaluate_dynamics(args.checkpoint, args.data, families=args.families, steps=args.steps,
                               device=args.device)
    print(f"{result['model']} (step {result['steps_trained']}) rolled out on {args.data}")
    print(format_rollout_table(result))
    return result


def _evaluate_fields(args: argparse.Namespace) -> dict:
    from ..errors import ConfigError, DataError
    from ..train.evaluate import evaluate, format_table

    from ..train.checkpoint import load_checkpoint
    from ..train.config import DYNAMICS_MODEL_NAMES

    if args.steps is not None:
        raise ConfigError("--steps is for trajectory datasets (giorom, gns checkpoints)")
    name = load_checkpoint(args.checkpoint).get("model_name")
    if name in DYNAMICS_MODEL_NAMES:
        raise DataError(f"{name} is a particle-dynamics model: evaluate it on a trajectory dataset "
                        "(graphops generate --problem mpm-trajectories), not on this mesh dataset", args.data)
    result = evaluate(args.checkpoint, args.data, families=args.families, batch_size=args.batch_size,
                      device=args.device)
    print(f"{result['model']} (epoch {result['epoch']}) on {args.data}")
    print(format_table(result))
    return result


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..utils.atomic import atomic_write

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.steps is not None and args.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {args.steps}")
    result = (_evaluate_dynamics if _is_trajectory_dataset(args.data) else _evaluate_fields)(args)
    if args.json_out:
        with atomic_write(args.json_out, mode="w") as handle:
            json.dump(result, handle, indent=2)
        print(f"wrote {args.json_out}")
    return 0
