"""``graphops train CONFIG.yaml [section.key=value ...]``: train a model as a run config describes."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any, Dict, Optional


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser(
        "train",
        help="train a model from a run config (YAML)",
        description=(
            "Train the model of a run config on its dataset; model.name decides the task. A field model "
            "(beno, meshgraphnet, gno, nuno, fno_global) writes OUT/config.yaml, OUT/last.pt (every epoch), "
            "OUT/best.pt, OUT/metrics.csv, OUT/metrics.json and OUT/test_metrics.json. A particle-dynamics "
            "model (giorom, gns) trains on a trajectory dataset (graphops generate --problem mpm-trajectories) "
            "and writes OUT/model.pt (every train.checkpoint_every steps; for graphops rollout) instead of "
            "last.pt, and the validation rollout MSE in OUT/metrics.json. Running the same command again resumes "
            "from the last checkpoint. Keys of the config can be overridden on the command line: "
            "graphops train run.yaml train.lr=1e-3 model.hidden=128. For several processes use --nproc N, or "
            "torchrun --nproc_per_node=N -m graphops train CONFIG (field models)."
        ),
    )
    p.add_argument("config", help="run config YAML (sections data, model, train, out)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="overrides of config keys, typed by the schema, e.g. train.lr=1e-3 model.hidden=128")
    p.add_argument("--out", help="output folder (overrides 'out' in the config)")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N (overrides train.device)")
    p.add_argument("--nproc", type=int, default=1, help="data-parallel processes on this machine (default 1)")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None, help="always show progress bars")
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress bars")
    p.set_defaults(func=run)


def _spawned_train(config: Dict[str, Any], progress: Optional[bool]) -> None:
    """Entry point of each process started by ``--nproc`` (module level so it can be pickled)."""
    from ..train import train

    _setup_logging()
    train(config, progress=progress)


def _setup_logging() -> None:
    log = logging.getLogger("graphops.train")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..tasks import decide_task
    from ..train import launch, load_run_config, train
    from ..train.distributed import env_world_size

    overrides = list(args.overrides)
    if args.out:
        overrides.append(f"out={args.out}")
    if args.device:
        overrides.append(f"train.device={args.device}")
    config = load_run_config(args.config, overrides)
    task = decide_task(config=config, dataset=config["data"]["root"], source=args.config)
    _setup_logging()
    if args.nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {args.nproc}")
    if args.nproc > 1:
        if not task.distributed:
            raise ConfigError(f"--nproc {args.nproc}: the {task.name} models train in one process")
        if env_world_size() > 1:
            raise ConfigError("--nproc cannot be used inside torchrun (it already starts the processes)")
        launch(_spawned_train, args.nproc, args=(config, args.progress))
        out = Path(config["out"]).expanduser()
        result = out / task.best_name
        if not (task.returns_best and result.exists()):
            result = out / task.last_name
    else:
        result = train(config, progress=args.progress)
    if env_world_size() > 1 and int(os.environ.get("RANK", "0")) != 0:
        return 0
    print(task.report(config, result))
    return 0
