"""``graphops train CONFIG.yaml``: train a model as a run config describes."""
from __future__ import annotations

import argparse
import json
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
            "Train the model of a run config on its dataset. Writes OUT/config.yaml, OUT/last.pt "
            "(every epoch), OUT/best.pt, OUT/metrics.csv, OUT/metrics.json and OUT/test_metrics.json. "
            "Running the same command again resumes from OUT/last.pt. For several processes use "
            "--nproc N, or torchrun --nproc_per_node=N -m graphops train CONFIG. "
            "A config with model.name giorom or gns trains a particle-dynamics model on a trajectory "
            "dataset (graphops generate --problem mpm-trajectories) instead: it writes OUT/config.yaml, "
            "OUT/model.pt (for graphops rollout) and OUT/metrics.json (validation rollout MSE), and "
            "resumes the same way."
        ),
    )
    p.add_argument("config", help="run config YAML (sections data, model, train, out)")
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


def _run_dynamics(args: argparse.Namespace) -> int:
    """A giorom / gns run config: train on particle trajectories (one process, CPU)."""
    from ..errors import ConfigError
    from ..train.config import read_config_file, validate_dynamics_config
    from ..train.dynamics import METRICS_NAME, train_dynamics_from_config

    if args.nproc != 1:
        raise ConfigError(f"--nproc {args.nproc}: the particle models (giorom, gns) train in one process")
    raw = read_config_file(args.config)
    source = Path(args.config).expanduser()
    config = validate_dynamics_config(raw, source)
    if args.out:
        config["out"] = args.out
    if args.device:
        config["train"]["device"] = args.device
    config = validate_dynamics_config(config, source)  # re-validate the overrides
    checkpoint = train_dynamics_from_config(config, progress=args.progress)
    print(f"checkpoint: {checkpoint}")
    summary = json.loads((checkpoint.parent / METRICS_NAME).read_text())
    if summary.get("val_rollout_mse") is not None:
        steps = summary["rollout"]["per_trajectory"][0]["steps"]
        print(f"validation rollout MSE ({len(summary['val_trajectories'])} trajectories, {steps} steps): "
              f"{summary['val_rollout_mse']:.4e}")
    else:
        print("no validation trajectories, so no rollout MSE (see data.val_fraction)")
    return 0


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..train import launch, load_run_config, train
    from ..train.config import is_dynamics_config, read_config_file

    if is_dynamics_config(read_config_file(args.config)):
        return _run_dynamics(args)
    from ..train.distributed import env_world_size
    from ..train.evaluate import format_table

    config = load_run_config(args.config)
    if args.out:
        config["out"] = args.out
    if args.device:
        config["train"]["device"] = args.device
    config = load_run_config(config)  # re-validate the overrides
    _setup_logging()
    if args.nproc > 1:
        if env_world_size() > 1:
            raise ConfigError("--nproc cannot be used inside torchrun (it already starts the processes)")
        launch(_spawned_train, args.nproc, args=(config, args.progress))
        best = Path(config["out"]).expanduser() / "best.pt"
        if not best.exists():
            best = best.with_name("last.pt")
    elif args.nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {args.nproc}")
    else:
        best = train(config, progress=args.progress)
    if env_world_size() > 1 and int(os.environ.get("RANK", "0")) != 0:
        return 0
    out = Path(config["out"]).expanduser()
    print(f"best checkpoint: {best}")
    metrics = out / "metrics.json"
    if metrics.exists():
        summary = json.loads(metrics.read_text())
        if summary.get("best_epoch") is not None and summary.get("best_val_rel_l2") is not None:
            print(f"best epoch {summary['best_epoch']}: validation relative L2 {summary['best_val_rel_l2']:.4e}")
    test = out / "test_metrics.json"
    if test.exists():
        print(format_table(json.loads(test.read_text())))
    return 0
