"""The one training loop of every task: resume, checkpoints, schedule, NaN guard, early stopping, DDP.

What is learned, from which data and with which loss is the task's business
(:mod:`graphops.tasks`: ``fields`` counts epochs, ``particles`` optimiser
steps); everything else happens here, the same way for both. Everything a run
produces goes to its ``out`` folder:

``config.yaml``
    The run config.
``last.pt`` (``model.pt`` for particle models)
    Written after every round (an epoch; ``train.checkpoint_every`` steps):
    weights, model config, normaliser, optimizer and scheduler state, RNG
    states, metrics history. A killed run restarted with the same config
    resumes from it, replays the rest exactly and loses at most the round in progress.
``best.pt``
    The same, written when the validation score (relative L2; rollout MSE) improves.
``metrics.csv`` / ``metrics.json``
    One row per round: the unit count, train_loss (and the task's loss parts),
    the validation metrics, lr, seconds.

Every file is written atomically. In a multi-process (DDP) run only rank 0 writes.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..errors import CheckpointError, ConfigError, DataError
from ..utils.atomic import atomic_write, writable_dir
from .checkpoint import ModelBuilder, load_checkpoint, model_config_of, save_checkpoint, set_rng_state
from .config import config_differences, dump_run_config, load_run_config, validate_run_config
from .distributed import DistContext, cleanup_distributed, setup_distributed

logger = logging.getLogger("graphops.train")

PathLike = Union[str, "os.PathLike[str]"]

#: Columns of a fields run's ``metrics.csv``, in order (see ``Task.columns``).
METRIC_COLUMNS = ("epoch", "train_loss", "val_rel_l2", "val_mae", "lr", "seconds")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and all CUDA devices) generators."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def unit_seed(seed: int, unit: int) -> int:
    """A distinct, reproducible seed for each unit (epoch, step), so a resumed unit replays exactly."""
    return (seed * 1_000_003 + 7919 * (unit + 1)) % (2**63 - 1)


def _json_number(value: Optional[float]) -> Optional[float]:
    return None if value is None or not math.isfinite(value) else float(value)


def build_optimizer(model: nn.Module, train_cfg: Mapping[str, Any]) -> torch.optim.Optimizer:
    """The optimizer named by ``train.optimizer`` with ``train.lr`` and ``train.weight_decay``."""
    lr, decay = float(train_cfg["lr"]), float(train_cfg["weight_decay"])
    name = train_cfg["optimizer"]
    if name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=decay)
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=decay)
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=decay)
    raise ConfigError(f"train.optimizer: unknown optimizer {name!r}")


def build_scheduler(optimizer: torch.optim.Optimizer, train_cfg: Mapping[str, Any], total: int):
    """The learning-rate schedule named by ``train.scheduler`` over ``total`` units (``None`` for ``none``)."""
    name = train_cfg["scheduler"]
    sched = torch.optim.lr_scheduler
    if name == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=total, eta_min=float(train_cfg["min_lr"]))
    if name == "step":
        step = train_cfg["step_size"] or max(1, total // 3)
        return sched.StepLR(optimizer, step_size=int(step), gamma=float(train_cfg["gamma"]))
    if name == "onecycle":
        # one step per unit; one spare step so the final unit's step stays in range
        return sched.OneCycleLR(optimizer, max_lr=float(train_cfg["lr"]), total_steps=total + 1)
    if name == "exponential":
        gamma = (float(train_cfg["lr_final"]) / float(train_cfg["lr"])) ** (1.0 / max(total, 1))
        return sched.ExponentialLR(optimizer, gamma)
    return None


class Trainer:
    """The training loop, for a run of any task.

    Parameters
    ----------
    run_config : path-like or mapping
        The run config (see :mod:`graphops.train.config`); ``model.name`` decides the task.
    train_data, val_data : sequences
        Training and validation data of the task: graphs (``y``, ``f`` and ``g``
        where the problem has them; a model with ``prepare(train_data)`` gets it
        called once before a new run's first epoch) or trajectories. ``val_data``
        may be empty: the best round is then chosen by training loss.
    builder : callable, optional
        ``model config -> nn.Module``; default :func:`graphops.models.build_model`.
    dist_ctx : DistContext, optional
        Process placement; default from the environment (torchrun) and ``train.device``.
    progress : bool, optional
        tqdm bars; default when stderr is a terminal (never on ranks other than 0).
    on_epoch_end : callable, optional
        Called on every rank as ``on_epoch_end(row)`` after a round's files are written.
    manifest : mapping, optional
        The dataset manifest (problem name, target), stored in the checkpoints so
        ``predict`` can set up inputs like the training ones; default the
        ``manifest`` attribute of ``train_data`` when it has one.
    task : Task, optional
        A task already bound to its data (what :func:`train` passes); then
        ``train_data`` and ``val_data`` are ignored.
    checkpoint : path-like, optional
        The last checkpoint's file (default ``OUT/last.pt``; ``OUT/model.pt`` for particles).
    files : bool
        Also write ``config.yaml``, ``best.pt`` and the metrics files (``False``: only ``checkpoint``).

    Examples
    --------
    >>> trainer = Trainer("run.yaml", train_set, val_set)   # doctest: +SKIP
    >>> best = trainer.fit()                                # doctest: +SKIP
    """

    def __init__(
        self,
        run_config: Union[PathLike, Mapping[str, Any]],
        train_data: Sequence[Any] = (),
        val_data: Sequence[Any] = (),
        builder: Optional[ModelBuilder] = None,
        dist_ctx: Optional[DistContext] = None,
        progress: Optional[bool] = None,
        on_epoch_end: Optional[Callable[[Dict[str, Any]], None]] = None,
        manifest: Optional[Mapping[str, Any]] = None,
        task: Any = None,
        checkpoint: Optional[PathLike] = None,
        files: bool = True,
    ) -> None:
        from ..tasks import decide_task

        self.config = load_run_config(run_config)
        if task is None:
            manifest = manifest or getattr(train_data, "manifest", None)
            task = decide_task(config=self.config)(self.config, train_data, val_data, manifest=manifest)
        self.task = task
        self.train_cfg = self.config["train"]
        self.out = Path(self.config["out"]).expanduser()
        self.last_path = Path(checkpoint).expanduser() if checkpoint is not None else self.out / task.last_name
        self.best_path: Optional[Path] = self.out / task.best_name if files else None
        self._files = files
        self._builder = builder
        self._ctx = dist_ctx
        self._progress = progress
        self.on_epoch_end = on_epoch_end
        self.history: List[Dict[str, Any]] = []
        self.best_score = math.inf
        self.best_epoch: Optional[int] = None
        self.bad_epochs = 0
        self.finished = False
        self.stopped_early = False
        self.details: Dict[str, Any] = {}
        self.model: Optional[nn.Module] = None

    @property
    def train_data(self):
        return self.task.train_data

    @property
    def val_data(self):
        return self.task.val_data

    @property
    def normalizer(self):
        return self.task.normalizer

    def dataset_info(self) -> Dict[str, Any]:
        """What ``predict`` needs to rebuild inputs like the training ones.

        ``problem`` (the dataset's problem name), ``target`` and the graph ``radius``.
        """
        from ..data.imported import checkpoint_info

        manifest = self.task.manifest or {}
        return {
            "problem": manifest.get("problem"),
            "target": manifest.get("target"),
            "radius": self.config["data"].get("radius"),
            **checkpoint_info(manifest),
        }

    # ------------------------------------------------------------------ setup
    def _build_model(self, config: Dict[str, Any]) -> nn.Module:
        builder = self._builder
        if builder is None:
            from ..models import build_model as builder
        model = builder(config)
        model_config_of(model)  # must carry its config
        return model

    def _resume_payload(self) -> Optional[Dict[str, Any]]:
        if not self.last_path.exists():
            return None
        payload = load_checkpoint(self.last_path)
        old = payload.get("run_config")
        if not isinstance(old, dict):
            raise CheckpointError("checkpoint has no run config to resume from; use a new out folder", self.last_path)
        stored = (payload.get("extra") or {}).get("identity")
        if not isinstance(stored, dict):
            try:  # a checkpoint of an older graphops: fill in the keys added since
                old = validate_run_config(old)
            except ConfigError:
                pass
            stored = self.task.identity(old)
        from ..models.registry import saved_config

        new = self.task.identity(self.config)
        effective = payload.get("model_config")
        trained = saved_config(effective) if isinstance(effective, Mapping) else None  # what the run was trained as
        stored = self._with_trained_model_settings(stored, new, trained)
        diffs = config_differences(stored, new, ())
        if diffs:
            shown = ", ".join(diffs[:5]) + (" ..." if len(diffs) > 5 else "")
            raise ConfigError(
                f"out folder {self.out} holds a run with a different config ({shown}); "
                "use a new out folder, or restore the old config to resume it"
            )
        self._check_same_model(trained, bool((payload.get("extra") or {}).get("finished")))
        return payload

    @staticmethod
    def _with_trained_model_settings(stored: Mapping[str, Any], new: Mapping[str, Any],
                                     trained: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
        """``stored`` with the model settings that ``new`` names and ``stored`` left to their defaults
        filled in from ``trained`` (the checkpoint's model config, completed by ``saved_config``):
        naming a setting at the value the run was trained with does not make it another run."""
        out = dict(stored)
        model, named = stored.get("model"), new.get("model")
        if isinstance(model, Mapping) and isinstance(named, Mapping) and trained is not None:
            out["model"] = {**{k: trained[k] for k in named if k not in model and k in trained}, **model}
        return out

    def _save(self, path: Path, position: int, optimizer, scheduler) -> None:
        """Write a checkpoint: the one place its ``metrics`` and ``extra`` are assembled."""
        save_checkpoint(
            path,
            self.model,
            optimizer=optimizer,
            scheduler=scheduler,
            normalizer=self.task.normalizer,
            epoch=position,
            metrics={
                "history": self.history,
                "best_epoch": self.best_epoch,
                "best_score": _json_number(self.best_score),
                **self.details,
            },
            run_config=self.config,
            extra={
                "bad_epochs": self.bad_epochs,
                "finished": self.finished,
                "stopped_early": self.stopped_early,
                "task": self.task.name,
                "identity": self.task.identity(self.config),
                "dataset": self.dataset_info(),
                **self.task.checkpoint_extra(),
            },
        )

    def _write_metrics(self) -> None:
        if not self._files:
            return
        columns = self.task.columns
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in self.history:
            writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
        with atomic_write(self.out / "metrics.csv", mode="w") as handle:
            handle.write(buffer.getvalue())
        summary = {
            "columns": list(columns),
            "epochs": self.history,
            "best_epoch": self.best_epoch,
            f"best_{self.task.score}": _json_number(self.best_score) if self.task.has_validation else None,
            "stopped_early": self.stopped_early,
            "finished": self.finished,
            **self.task.summary({"history": self.history, **self.details}),
        }
        with atomic_write(self.out / "metrics.json", mode="w") as handle:
            json.dump(summary, handle, indent=2)

    def _remove_temporaries(self) -> None:
        """Delete what a killed run left of its atomic writes (``.NAME.*.tmp.EXT`` beside each output)."""
        names = [self.last_path, self.out / self.task.best_name] + [
            self.out / n for n in ("metrics.csv", "metrics.json", "config.yaml", "test_metrics.json")]
        for path in names:
            for stale in path.parent.glob(f".{path.stem}.*.tmp{path.suffix}"):
                stale.unlink(missing_ok=True)

    def _result(self) -> Path:
        """``best.pt`` for fields (``last`` when no round improved); the last checkpoint for particles."""
        if self.task.returns_best and self.best_path is not None and self.best_path.exists():
            return self.best_path
        return self.last_path

    # ------------------------------------------------------------------ loop
    def fit(self, stop_after: Optional[int] = None) -> Path:
        """Train until ``train.epochs`` (``train.steps``), early stopping, or ``stop_after`` units.

        Parameters
        ----------
        stop_after : int, optional
            Return after this many finished units (counted from 0, including
            resumed ones) without marking the run finished; calling ``fit`` again
            (or a new Trainer on the same out folder) resumes.

        Returns
        -------
        Path
            ``OUT/best.pt`` (``OUT/last.pt`` if no epoch improved); for particles the last checkpoint.

        Raises
        ------
        ConfigError
            The last checkpoint belongs to a run with a different config.
        CheckpointError
            The last checkpoint is unreadable.
        DataError
            NaN/inf in the data, or a non-finite loss (naming the unit, step and samples).
        """
        own_ctx = self._ctx is None
        ctx = self._ctx or setup_distributed(self.task.device())
        try:
            return self._fit(ctx, stop_after)
        finally:
            if own_ctx:
                cleanup_distributed(ctx)

    def _restore(self, payload: Mapping[str, Any], model: nn.Module, optimizer, scheduler) -> int:
        try:
            model.load_state_dict(payload["model_state"], strict=True)
            optimizer.load_state_dict(payload["optimizer_state"])
            if scheduler is not None:
                scheduler.load_state_dict(payload["scheduler_state"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"cannot resume: state does not fit the model ({str(exc)[:160]})",
                                  self.last_path) from None
        metrics = payload.get("metrics") or {}
        self.history = list(metrics.get("history", []))
        self.best_epoch = metrics.get("best_epoch")
        best = metrics.get("best_score")
        self.best_score = math.inf if best is None else float(best)
        self.details = {k: v for k, v in metrics.items() if k not in ("history", "best_epoch", "best_score")}
        self.bad_epochs = int((payload.get("extra") or {}).get("bad_epochs", 0))
        if payload.get("rng_state"):
            set_rng_state(payload["rng_state"])
        return int(payload["epoch"])

    def _check_same_model(self, trained: Optional[Mapping[str, Any]], finished: bool) -> None:
        """Refuse to resume (or reuse) a run whose model this config would build differently today.

        The stored run config may leave a model setting to its default, and a
        model setting added since (the model class's ``config_added``) may have
        a default other than the value older runs were trained with: the
        checkpoint's own model config, completed by
        :func:`graphops.models.registry.saved_config` (``trained``), says what
        the run was trained as, and this config with today's defaults what it
        would build.

        A finished run is reused as it is (a warning names the settings): its
        checkpoint rebuilds the model it was trained as.

        Raises
        ------
        ConfigError
            For a run to be continued: naming each setting that differs and how
            to keep the run's value.
        """
        from ..models.registry import default_config, model_class

        section = self.config.get("model")
        if trained is None or not isinstance(section, Mapping):
            return
        try:
            added = getattr(model_class(str(section.get("name"))), "config_added", None) or {}
            wanted = {**default_config(str(section.get("name"))), **section}
        except ConfigError:
            return  # an unknown model name is reported when the model is built
        plain = lambda v: json.loads(json.dumps(v, default=str))  # noqa: E731 - tuples and lists alike
        changed = [k for k in sorted(added) if k in trained and plain(trained[k]) != plain(wanted.get(k))]
        if not changed:
            return
        shown = ", ".join(f"model.{k}: {trained[k]!r} (now {wanted[k]!r})" for k in changed[:4])
        if finished:
            logger.warning("the finished run in %s was trained with other model settings than this config builds "
                           "today (%s); reusing it as it is (use a new out folder to train with today's)",
                           self.out, shown)
            return
        raise ConfigError(
            f"out folder {self.out} holds a run trained with other model settings than this config builds "
            f"today ({shown}), probably a default that changed since; set them in the config to resume it, "
            "or use a new out folder"
        )

    def _fit(self, ctx: DistContext, stop_after: Optional[int]) -> Path:
        task, cfg = self.task, self.train_cfg
        seed = int(cfg["seed"])
        batch_size = int(cfg["batch_size"])
        if batch_size % ctx.world_size:
            raise ConfigError(
                f"train.batch_size: the global batch {batch_size} must be divisible by the "
                f"{ctx.world_size} processes"
            )
        per_rank = batch_size // ctx.world_size
        device = ctx.device
        show = ctx.is_main and (sys.stderr.isatty() if self._progress is None else self._progress)

        payload = self._resume_payload()
        if ctx.is_main:
            self._remove_temporaries()
        if payload is not None and (payload.get("extra") or {}).get("finished"):
            if ctx.is_main:
                logger.info("run in %s is already complete (%s %s); nothing to do", self.out, task.unit,
                            payload["epoch"])
            return self._result()

        task.check_data(resuming=payload is not None)
        seed_everything(seed)
        model = self._build_model(task.model_config()).to(device)
        self.model = model
        task.prepare(model, payload, device)
        optimizer = build_optimizer(model, cfg)
        total = int(cfg[task.length_key])
        scheduler = build_scheduler(optimizer, cfg, total)
        position = 0
        if payload is not None:
            position = self._restore(payload, model, optimizer, scheduler)
            if ctx.is_main:
                logger.info("resuming %s from %s %d", self.out, task.unit, position)
        if ctx.is_main and self._files:
            config_file = self.out / "config.yaml"
            if payload is None or not config_file.exists():
                writable_dir(config_file)
                dump_run_config(self.config, config_file)
            if payload is not None:
                self._write_metrics()  # the checkpoint is the source of truth after a kill
        ctx.barrier()

        train_model: nn.Module = model
        if ctx.is_distributed:
            from torch.nn.parallel import DistributedDataParallel

            train_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        task.start(ctx, per_rank, device)
        patience = cfg["patience"]
        min_delta = float(cfg["min_delta"])
        clip = cfg["grad_clip"]
        unit_bars = task.unit == "epoch"  # a bar over each epoch's batches; a step is one batch

        bar = tqdm(total=total, initial=position, desc="train", unit=task.unit,
                   disable=not show, dynamic_ncols=True)
        budget = cfg.get("max_seconds")
        try:
            while position < total:
                if budget is not None and self.loop_seconds() >= float(budget):
                    if ctx.is_main:
                        logger.info("time budget reached: %.0f s of training loop >= train.max_seconds %s; stopped at "
                                    "%s %d (run again with a larger budget to continue)", self.loop_seconds(), budget,
                                    task.unit, position)
                    break
                end = task.round_end(position, total, stop_after)
                t0 = time.perf_counter()
                lr = float(optimizer.param_groups[0]["lr"])
                train_model.train()
                sums = torch.zeros(2, dtype=torch.float64)
                parts: Dict[str, List[float]] = {}
                for unit in range(position, end):
                    seed_everything(unit_seed(seed, unit))
                    batches = task.batches(unit, ctx, unit_seed(seed, unit))
                    if unit_bars:
                        batches = tqdm(batches, desc=f"{task.unit} {unit + 1}/{total}", unit="batch", leave=False,
                                       disable=not show, dynamic_ncols=True)
                    for step, batch in enumerate(batches):
                        loss, weight, named = task.loss(train_model, batch, device)
                        self._check_loss(ctx, loss, unit, step, batch)
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        if clip is not None:
                            nn.utils.clip_grad_norm_(model.parameters(), float(clip))
                        optimizer.step()
                        value = float(loss.detach())
                        sums += torch.tensor([value * weight, weight], dtype=torch.float64)
                        for key, part in named.items():
                            parts.setdefault(key, []).append(part)
                        if unit_bars:
                            batches.set_postfix(loss=f"{value:.4g}")
                    if scheduler is not None:
                        scheduler.step()
                    if not unit_bars:
                        bar.update(1)
                totals = ctx.all_reduce_sum(sums)
                train_loss = float(totals[0] / totals[1].clamp_min(1))

                model.eval()
                scalars, self.details = task.validate(model, ctx, per_rank)
                score = scalars.get(task.score, math.nan) if task.has_validation else train_loss
                improved = math.isfinite(score) and score < self.best_score - min_delta
                if improved:
                    self.best_score, self.best_epoch, self.bad_epochs = score, end, 0
                else:
                    self.bad_epochs += 1
                values = {task.columns[0]: end, "train_loss": train_loss, "lr": lr,
                          **{k: float(np.mean(v)) for k, v in parts.items()}, **scalars}
                row = {c: (_json_number(values.get(c)) if c not in (task.columns[0], "lr") else values[c])
                       for c in task.columns if c != "seconds"}
                row["seconds"] = round(time.perf_counter() - t0, 4)
                self.history.append(row)
                if patience is not None and self.bad_epochs >= patience:
                    self.stopped_early = True
                self.finished = self.stopped_early or end >= total
                if ctx.is_main:
                    if improved and self.best_path is not None:
                        self._save(self.best_path, end, optimizer, scheduler)
                    self._save(self.last_path, end, optimizer, scheduler)
                    self._write_metrics()
                    shown = "  ".join(f"{task.labels.get(k, k)} {v:.4e}" for k, v in row.items()
                                      if k not in (task.columns[0], "lr", "seconds") and v is not None)
                    message = (f"{task.unit} {end}/{total}  {shown}  lr {lr:.2e}  {row['seconds']:.1f}s"
                               + ("  *" if improved else ""))
                    if show:
                        tqdm.write(message, file=sys.stderr)
                    else:
                        logger.info(message)
                ctx.barrier()
                if unit_bars:
                    bar.update(end - position)
                bar.set_postfix({task.score: f"{score:.3e}", "best": self.best_epoch})
                if self.on_epoch_end is not None:
                    self.on_epoch_end(dict(row))
                position = end
                if self.stopped_early:
                    if ctx.is_main:
                        logger.info("early stop after %s %d: no improvement in %d validations", task.unit, end,
                                    self.bad_epochs)
                    break
                if stop_after is not None and position >= stop_after:
                    break
        finally:
            bar.close()
        return self._result()

    def loop_seconds(self) -> float:
        """Seconds the training loop has run so far, over every resume (:func:`loop_seconds` of the history)."""
        return loop_seconds(self.history)

    def _check_loss(self, ctx: DistContext, loss: torch.Tensor, unit: int, step: int, batch: Any) -> None:
        """DataError naming the unit, step and samples when the loss is not finite (all ranks stop together)."""
        bad = not bool(torch.isfinite(loss.detach()).all())
        if ctx.is_distributed:  # every rank must stop together or the others hang in backward
            flag = ctx.all_reduce_sum(torch.tensor([float(bad)], dtype=torch.float64))
            if flag[0] == 0:
                return
            import torch.distributed as dist

            gathered: List[Any] = [None] * ctx.world_size
            dist.all_gather_object(gathered, self.task.batch_ids(batch) if bad else [])
            ids = [i for part in gathered for i in part]
        elif not bad:
            return
        else:
            ids = self.task.batch_ids(batch)
        raise DataError(self.task.nonfinite_message(float(loss.detach()), unit, step, ids))


def loop_seconds(history: Sequence[Mapping[str, Any]]) -> float:
    """Seconds a training loop has run: the sum of its rounds' ``seconds`` (rows of ``metrics.json`` history)."""
    return float(sum(row.get("seconds") or 0.0 for row in history))


def split_run_data(config: Mapping[str, Any], progress: bool = False):
    """Open a fields run's ``data.root`` and split it into (train, val, test):
    :func:`graphops.tasks.fields.split_run_data`."""
    from ..tasks.fields import split_run_data as split

    return split(config, progress=progress)


def train(
    run_config: Union[PathLike, Mapping[str, Any]],
    progress: Optional[bool] = None,
    builder: Optional[ModelBuilder] = None,
    on_epoch_end: Optional[Callable[[Dict[str, Any]], None]] = None,
    overrides: Sequence[str] = (),
) -> Path:
    """Train the model of a run config on its dataset; the library side of ``graphops train``.

    The task follows from ``model.name`` (:func:`graphops.tasks.decide_task`,
    checked against the dataset's manifest). The task opens ``data.root``
    (fields: :class:`graphops.data.MeshDataset` split by family; particles:
    trajectories split by index), the loop trains (resuming from the last
    checkpoint when present), then the task finishes the run (fields: evaluate
    ``best.pt`` on the test families into ``OUT/test_metrics.json``). Under
    ``torchrun`` each process calls this.

    Parameters
    ----------
    run_config : path-like or mapping
    progress : bool, optional
        tqdm bars (default: when stderr is a terminal).
    builder : callable, optional
        ``model config -> nn.Module`` (default :func:`graphops.models.build_model`).
    on_epoch_end : callable, optional
        Called with each round's metrics row (see :class:`Trainer`).
    overrides : sequence of str
        ``section.key=value`` overrides (:func:`graphops.train.config.apply_overrides`).

    Returns
    -------
    Path
        The best checkpoint (fields) or the last one (particles: ``OUT/model.pt``).
    """
    from ..tasks import decide_task

    config = load_run_config(run_config, overrides)
    task_cls = decide_task(config=config, dataset=config["data"]["root"])
    ctx = setup_distributed(task_cls.run_device(config))
    try:
        show = ctx.is_main and (sys.stderr.isatty() if progress is None else progress)
        task = task_cls.from_data(config, task_cls.open_data(config, progress=show))
        trainer = Trainer(config, task=task, builder=builder, dist_ctx=ctx, progress=progress,
                          on_epoch_end=on_epoch_end)
        best = trainer.fit()
        if ctx.is_main:
            task.finish(best, ctx, builder)
        ctx.barrier()
        return best
    finally:
        cleanup_distributed(ctx)
