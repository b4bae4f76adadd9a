"""``graphops evaluate CKPT DATA``: relative L2 and MAE of a trained model, per family."""
from __future__ import annotations

import argparse
import json
from typing import List


def _families(text: str) -> List[int]:
    from ..data.problems import parse_families
    from ..errors import ConfigError

    try:
        return parse_families(text, "--families", 0, None)
    except ConfigError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 0 like 0,1,2, got {text!r}") from None


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


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..tasks import decide_task
    from ..utils.atomic import atomic_write

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.steps is not None and args.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {args.steps}")
    task = decide_task(checkpoint=args.checkpoint, dataset=args.data, command="evaluate")
    result = task.evaluate(args.checkpoint, args.data, families=args.families, batch_size=args.batch_size,
                           device=args.device, steps=args.steps)
    print(task.format_result(result, args.data))
    if args.json_out:
        with atomic_write(args.json_out, mode="w") as handle:
            json.dump(result, handle, indent=2)
        print(f"wrote {args.json_out}")
    return 0
