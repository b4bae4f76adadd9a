"""The task protocol: what a kind of learning problem supplies to the one training loop.

A task owns its data (opening it, batching it), its loss, its validation
metrics and how a trained model is evaluated. The loop
(:class:`graphops.train.Trainer`) owns everything else: resume, optimizer,
schedule, RNG, NaN guard, gradient clipping, early stopping, checkpoints,
progress bars, ``metrics.csv`` / ``metrics.json`` and DDP.

The loop counts *units*: epochs for ``fields``, optimiser steps for
``particles``. The learning-rate schedule steps and every random generator is
re-seeded once per unit; a *round* (one or more units, see :meth:`Task.round_end`)
ends with a validation and a checkpoint, so a killed run resumes from the last
round and replays the rest exactly.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class TaskData:
    """What :meth:`Task.open_data` returns: the split data, the manifest, and task-specific extras
    (passed to the task's constructor as keyword arguments)."""

    train: Sequence[Any]
    val: Sequence[Any]
    manifest: Dict[str, Any] = field(default_factory=dict)
    extras: Dict[str, Any] = field(default_factory=dict)


class Task:
    """Base class of the tasks; the attributes below are what the loop reads.

    Parameters
    ----------
    config : mapping
        The validated run config.
    train_data, val_data : sequences
        What the task trains and validates on (graphs, trajectories).
    manifest : mapping, optional
        The dataset manifest (stored in checkpoints).
    """

    #: Task name, as declared by the model classes (``task = "fields"``).
    name: ClassVar[str] = ""
    #: What the loop counts and the ``train`` key that gives the run's length.
    unit: ClassVar[str] = "epoch"
    length_key: ClassVar[str] = "epochs"
    #: ``metrics.csv`` columns; the first is the unit count, the row's other keys come from the task.
    columns: ClassVar[Tuple[str, ...]] = ()
    #: How the per-round log line names the columns.
    labels: ClassVar[Dict[str, str]] = {"train_loss": "train"}
    #: The validation column that picks the best checkpoint and drives early stopping.
    score: ClassVar[str] = ""
    #: File names of the checkpoints in the out folder.
    last_name: ClassVar[str] = "last.pt"
    best_name: ClassVar[str] = "best.pt"
    #: How error messages name a model of this task.
    model_noun: ClassVar[str] = ""
    #: :func:`graphops.train.train` returns the best checkpoint (else the last one).
    returns_best: ClassVar[bool] = True
    #: Can train in several processes (DDP under torchrun).
    distributed: ClassVar[bool] = True

    def __init__(self, config: Mapping[str, Any], train_data: Sequence[Any], val_data: Sequence[Any] = (),
                 manifest: Optional[Mapping[str, Any]] = None) -> None:
        self.config = config
        self.train_data = train_data
        self.val_data = val_data if val_data is not None else ()
        self.manifest = dict(manifest or {})

    # ------------------------------------------------------------------ config
    @classmethod
    def check_config(cls, config: Dict[str, Any], source: Optional[PathLike]) -> None:
        """Cross-key checks of a run config already typed by the schema (ConfigError naming the key)."""

    @classmethod
    def wrong_model_message(cls, model_name: str) -> str:
        """Why ``model.name`` cannot be used for a run of this task."""
        return f"{model_name!r} is not a {cls.name} model; a {cls.name} run needs a {cls.model_noun}"

    @classmethod
    def open_data(cls, config: Mapping[str, Any], progress: bool = False) -> TaskData:
        """The data of ``data.root``, split as the run config says."""
        raise NotImplementedError

    @classmethod
    def from_data(cls, config: Mapping[str, Any], data: TaskData) -> "Task":
        """The task of a run, bound to the data :meth:`open_data` returned."""
        return cls(config, data.train, data.val, manifest=data.manifest, **data.extras)

    @classmethod
    def run_device(cls, config: Mapping[str, Any]) -> str:
        """The device a run of this config trains on (``train.device``)."""
        return str(config["train"]["device"])

    def identity(self, config: Mapping[str, Any]) -> Dict[str, Any]:
        """The part of a config that must match for a run to resume (runtime keys dropped)."""
        from ..train.config import runtime_keys, strip_runtime

        return strip_runtime(config, runtime_keys(self.name))

    # ------------------------------------------------------------------ training hooks
    @property
    def has_validation(self) -> bool:
        return len(self.val_data) > 0

    def device(self) -> str:
        """The device this run trains on (:meth:`run_device`)."""
        return self.run_device(self.config)

    def check_data(self, resuming: bool) -> None:
        """DataError naming a bad sample before training starts."""

    def model_config(self) -> Dict[str, Any]:
        """The model section with every data-dependent value (``radius: auto``) resolved."""
        return dict(self.config["model"])

    def prepare(self, model: nn.Module, payload: Optional[Mapping[str, Any]], device: torch.device) -> None:
        """Data-dependent setup: fit statistics on a new run, restore them on a resumed one."""

    def start(self, ctx: Any, per_rank: int, device: torch.device) -> None:
        """Set up batching before the first round (``per_rank`` samples per step on this rank)."""

    def round_end(self, position: int, total: int, stop_after: Optional[int]) -> int:
        """The unit count at which the round starting at ``position`` ends (validation + checkpoint)."""
        return position + 1

    def batches(self, unit: int, ctx: Any, seed: int) -> Iterable[Any]:
        """This rank's batches of one unit; the global generators are already seeded with ``seed``."""
        raise NotImplementedError

    def loss(self, train_model: nn.Module, batch: Any, device: torch.device) -> Tuple[torch.Tensor, float, Dict[str, float]]:
        """``(loss, weight, parts)``: the loss to minimise, its weight in the round's mean, named components."""
        raise NotImplementedError

    def batch_ids(self, batch: Any) -> List[Any]:
        """What a non-finite loss message names (sample ids, trajectory windows)."""
        return []

    def nonfinite_message(self, value: float, unit: int, step: int, ids: List[Any]) -> str:
        raise NotImplementedError

    def validate(self, model: nn.Module, ctx: Any, batch_size: int) -> Tuple[Dict[str, float], Dict[str, Any]]:
        """``(scalars, details)``: the row's validation columns and anything else for the checkpoint."""
        return {}, {}

    def checkpoint_extra(self) -> Dict[str, Any]:
        """Task state stored in every checkpoint's ``extra`` (plain values)."""
        return {}

    @property
    def normalizer(self):
        """The fitted normaliser stored in checkpoints (``None`` when the model carries its own statistics)."""
        return None

    def summary(self, payload_metrics: Mapping[str, Any]) -> Dict[str, Any]:
        """Task-specific keys of ``metrics.json``."""
        return {}

    def finish(self, best: PathLike, ctx: Any, builder=None) -> None:
        """After training, on rank 0: e.g. evaluate on the test set."""

    @classmethod
    def report(cls, config: Mapping[str, Any], checkpoint: PathLike) -> str:
        """What ``graphops train`` prints about a finished run (read from its out folder)."""
        return f"checkpoint: {checkpoint}"

    # ------------------------------------------------------------------ inference
    @classmethod
    def evaluate(cls, checkpoint: PathLike, data: Any, **options: Any) -> Dict[str, Any]:
        """Metrics of a checkpoint on a dataset of this task."""
        raise NotImplementedError

    @classmethod
    def format_result(cls, result: Mapping[str, Any], data: Any) -> str:
        """The printed form of :meth:`evaluate`'s result."""
        raise NotImplementedError
