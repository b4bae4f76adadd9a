"""Training and evaluating the particle-dynamics models (``giorom``, ``gns``) from Python.

The ``particles`` task (:mod:`graphops.tasks.particles`) holds what is
particular to them (trajectory statistics, noisy windows, the acceleration and
decoder losses, rollout evaluation); they train in the one training loop
(:class:`graphops.train.Trainer`) like every other model. This module keeps the
function-style entry points:

* :func:`train_dynamics` trains on trajectories in memory and writes one checkpoint file;
* :func:`train_dynamics_from_config` is ``graphops train CONFIG`` for a giorom / gns config;
* :func:`evaluate_dynamics` is ``graphops evaluate`` on a trajectory dataset.

The checkpoint (:func:`graphops.train.checkpoint.save_checkpoint`) holds the
model config, the weights and, as buffers of the model, the normaliser
statistics, the wall box, ``frame_dt`` and the default material; it loads with
``torch.load(weights_only=True)`` via :func:`graphops.train.checkpoint.load_model`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from ..tasks.particles import (  # noqa: F401  (public names of this module)
    _noisy_window,
    estimate_radius,
    evaluate_dynamics,
    evaluate_rollout,
    format_rollout_table,
    particle_model_names,
    split_trajectories,
    trajectory_statistics,
)

PathLike = Union[str, "os.PathLike[str]"]

#: Files of a particle-dynamics run's ``out`` folder, besides ``config.yaml`` and ``best.pt``.
CHECKPOINT_NAME = "model.pt"
METRICS_NAME = "metrics.json"


def train_dynamics(
    model_config: Mapping[str, Any],
    trajectories,
    out: PathLike,
    steps: int = 1000,
    batch_size: int = 2,
    lr: float = 1e-3,
    lr_final: float = 1e-4,
    noise_std: Optional[float] = None,
    decoder_weight: float = 1.0,
    decoder_queries: int = 4096,
    radius_factor: float = 2.5,
    seed: int = 0,
    checkpoint_every: int = 0,
    resume: bool = False,
    val_trajectories=None,
    rollout_steps: Optional[int] = None,
    progress: bool = True,
    stop_after: Optional[int] = None,
    **train_options: Any,
) -> Path:
    """Train a ``giorom`` or ``gns`` model on particle trajectories; write a checkpoint.

    The keyword arguments are the ``train`` keys of a particle run config
    (:data:`graphops.train.config.SCHEMA`); further ones (``optimizer``,
    ``grad_clip``, ``patience``, ``scheduler``...) go to ``train`` as well.

    Parameters
    ----------
    model_config : mapping
        ``{"name": "giorom" | "gns", ...}``; ``"radius": "auto"`` (and
        ``"decoder_radius": "auto"``) are replaced by :func:`estimate_radius`
        with ``radius_factor`` (of the sparse samples for giorom).
    trajectories : TrajectoryDataset or sequence of dicts
        Training trajectories (``positions`` (F, P, d), ``material``, ``bounds``, ``frame_dt``).
    out : path-like
        Checkpoint file to write (``.pt``).
    steps : int
        Optimiser steps.
    batch_size : int
        Windows per step.
    lr, lr_final : float
        Learning rate, decayed exponentially to ``lr_final`` at the last step.
    noise_std : float, optional
        Random-walk noise on the last input velocity (position units per frame);
        default: the RMS acceleration of the data.
    decoder_weight : float
        Weight of the decoder loss (giorom).
    decoder_queries : int
        Dense particles per trajectory the decoder loss uses per step (random subset).
    seed : int
    checkpoint_every : int
        Also write ``out`` (and validate) every this many steps (0: only at the end).
    resume : bool
        Continue from ``out`` when it exists (same config), replaying the same random draws;
        a finished run is returned as it is. Otherwise an existing ``out`` is replaced.
    val_trajectories : optional
        Trajectories for the validation rollouts (metrics stored in the checkpoint).
    rollout_steps : int, optional
        Length of those rollouts (default: to the end of each trajectory).
    progress : bool
    stop_after : int, optional
        Save and return after this many steps in total (simulates an interruption;
        ``resume=True`` continues exactly).

    Returns
    -------
    Path
        ``out``.
    """
    from .config import validate_run_config
    from .trainer import Trainer

    out = Path(out).expanduser()
    raw = {
        "data": {"root": os.fspath(getattr(trajectories, "root", "(in memory)"))},
        "model": dict(model_config) if isinstance(model_config, Mapping) else model_config,
        "train": {"steps": steps, "batch_size": batch_size, "lr": lr, "lr_final": lr_final, "noise_std": noise_std,
                  "decoder_weight": decoder_weight, "decoder_queries": decoder_queries,
                  "radius_factor": radius_factor, "seed": seed, "checkpoint_every": checkpoint_every,
                  "rollout_steps": rollout_steps, **train_options},
        "out": os.fspath(out.parent),
    }
    config = validate_run_config(raw, task="particles")
    if not resume and out.exists():
        out.unlink()
    trainer = Trainer(config, trajectories, val_trajectories if val_trajectories is not None else (),
                      progress=progress, checkpoint=out, files=False)
    return trainer.fit(stop_after=stop_after)


def train_dynamics_from_config(config: Union[PathLike, Mapping[str, Any]],
                               progress: Optional[bool] = None) -> Path:
    """Train a ``giorom`` / ``gns`` model as a run config describes (``graphops train CONFIG``).

    :func:`graphops.train.train` for a particle run config: writes
    ``OUT/config.yaml``, ``OUT/model.pt`` (every ``train.checkpoint_every`` steps
    and at the end; load it with :func:`graphops.train.checkpoint.load_model` or
    roll it out with ``graphops rollout``), ``OUT/best.pt`` and
    ``OUT/metrics.json`` (the validation rollout MSE ``val_rollout_mse``,
    per-trajectory errors, the loss history). Running it again resumes an
    interrupted run exactly and returns a finished one without training; an
    ``OUT`` holding a run of another config is refused.

    Returns
    -------
    Path
        ``OUT/model.pt``.

    Raises
    ------
    ConfigError, DataError, CheckpointError
    """
    from .config import read_config_file, validate_run_config
    from .trainer import train

    if isinstance(config, Mapping):
        cfg = validate_run_config(config, task="particles")
    else:
        cfg = validate_run_config(read_config_file(config), Path(config).expanduser(), task="particles")
    return train(cfg, progress=progress)
