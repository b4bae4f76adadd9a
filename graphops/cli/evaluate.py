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
        help="relative L2 and MAE of a checkpoint on a dataset",
        description="Evaluate a trained checkpoint on a generated dataset; print a table per family "
        "(samples, relative L2, MAE) and optionally write it as JSON.",
    )
    p.add_argument("checkpoint", help="checkpoint written by graphops train (best.pt)")
    p.add_argument("data", help="dataset folder written by graphops generate")
    p.add_argument("--families", type=_families, help="only these families, e.g. 0,1,2,3,4")
    p.add_argument("--json", dest="json_out", metavar="FILE", help="also write the results (with per-sample errors) here")
    p.add_argument("--batch-size", type=int, default=8, help="graphs per batch (default 8)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..train.evaluate import evaluate, format_table
    from ..utils.atomic import atomic_write

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    result = evaluate(args.checkpoint, args.data, families=args.families, batch_size=args.batch_size,
                      device=args.device)
    print(f"{result['model']} (epoch {result['epoch']}) on {args.data}")
    print(format_table(result))
    if args.json_out:
        with atomic_write(args.json_out, mode="w") as handle:
            json.dump(result, handle, indent=2)
        print(f"wrote {args.json_out}")
    return 0
