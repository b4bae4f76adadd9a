"""The training loop: AdamW, per-epoch schedule, early stopping, checkpoints, resume.

Everything a run produces goes to its ``out`` folder:

``config.yaml``
    The run config.
``last.pt``
    Written after every epoch: weights, model config, normaliser, optimizer and
    scheduler state, RNG states, metrics history. A killed run restarted with
    the same config resumes from it and loses at most the epoch in progress.
``best.pt``
    The same, written when the validation relative L2 improves.
``metrics.csv`` / ``metrics.json``
    One row per finished epoch: epoch, train_loss, val_rel_l2, val_mae, lr, seconds.

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
from torch.utils.data import DistributedSampler, Subset
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from ..data.frame import training_frame
from ..errors import CheckpointError, ConfigError, DataError
from ..utils.atomic import atomic_write, writable_dir
from .checkpoint import ModelBuilder, load_checkpoint, model_config_of, save_checkpoint, set_rng_state
from .config import config_differences, dump_run_config, load_run_config
from .distributed import DistContext, cleanup_distributed, setup_distributed
from .evaluate import batch_sample_ids, evaluate_model
from .losses import get_loss
from .metrics import MetricAccumulator
from .normalize import FieldNormalizer, check_finite

logger = logging.getLogger("graphops.train")

PathLike = Union[str, "os.PathLike[str]"]

#: Columns of ``metrics.csv``, in order.
METRIC_COLUMNS = ("epoch", "train_loss", "val_rel_l2", "val_mae", "lr", "seconds")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and all CUDA devices) generators."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _epoch_seed(seed: int, epoch: int) -> int:
    """A distinct, reproducible seed for each epoch (so a resumed epoch replays exactly)."""
    return (seed * 1_000_003 + 7919 * (epoch + 1)) % (2**63 - 1)


def _json_number(value: Optional[float]) -> Optional[float]:
    return None if value is None or not math.isfinite(value) else float(value)


def build_scheduler(optimizer: torch.optim.Optimizer, train_cfg: Mapping[str, Any]):
    """The per-epoch learning-rate schedule named by ``train.scheduler`` (``None`` for ``none``)."""
    name, epochs = train_cfg["scheduler"], int(train_cfg["epochs"])
    sched = torch.optim.lr_scheduler
    if name == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=float(train_cfg["min_lr"]))
    if name == "step":
        step = train_cfg["step_size"] or max(1, epochs // 3)
        return sched.StepLR(optimizer, step_size=int(step), gamma=float(train_cfg["gamma"]))
    if name == "onecycle":
        # one step per epoch; one spare step so the final epoch's step stays in range
        return sched.OneCycleLR(optimizer, max_lr=float(train_cfg["lr"]), total_steps=epochs + 1)
    return None


class Trainer:
    """Train a graph neural operator on in-memory or on-disk graph datasets.

    Parameters
    ----------
    run_config : path-like or mapping
        The run config (see :mod:`graphops.train.config`).
    train_data, val_data : sequence of Data
        Training and validation graphs (``y``, ``f`` and ``g`` where the problem
        has them, plus the fields the model reads). A model with a
        ``prepare(train_data)`` method gets it called once before a new run's
        first epoch (NUNO fits its shared decomposition there). ``val_data`` may be empty: the best epoch is then chosen by
        training loss.
    builder : callable, optional
        ``model config -> nn.Module``; default :func:`graphops.models.build_model`.
    dist_ctx : DistContext, optional
        Process placement; default from the environment (torchrun) and ``train.device``.
    progress : bool, optional
        tqdm bars; default when stderr is a terminal (never on ranks other than 0).
    on_epoch_end : callable, optional
        Called on every rank as ``on_epoch_end(row)`` after an epoch's files are written.
    manifest : mapping, optional
        The dataset manifest (problem name, target), stored in the checkpoints so
        ``predict`` can set up inputs like the training ones; default the
        ``manifest`` attribute of ``train_data`` when it has one.

    Examples
    --------
    >>> trainer = Trainer("run.yaml", train_set, val_set)   # doctest: +SKIP
    >>> best = trainer.fit()                                # doctest: +SKIP
    """

    def __init__(
        self,
        run_config: Union[PathLike, Mapping[str, Any]],
        train_data: Sequence[Data],
        val_data: Sequence[Data] = (),
        builder: Optional[ModelBuilder] = None,
        dist_ctx: Optional[DistContext] = None,
        progress: Optional[bool] = None,
        on_epoch_end: Optional[Callable[[Dict[str, Any]], None]] = None,
        manifest: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self._manifest = dict(manifest or {})
        self.config = load_run_config(run_config)
        self.train_cfg = self.config["train"]
        self.out = Path(self.config["out"]).expanduser()
        self.train_data = train_data
        self.val_data = val_data
        if len(train_data) == 0:
            raise DataError("the training set is empty (check data.root and data.train_families)")
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
        self.model: Optional[nn.Module] = None
        self.normalizer: Optional[FieldNormalizer] = None

    def dataset_info(self) -> Dict[str, Any]:
        """What ``predict`` needs to rebuild inputs like the training ones.

        ``problem`` (the dataset's problem name, when the training set is a
        :class:`graphops.data.MeshDataset`), ``target`` and the graph ``radius``.
        """
        manifest = self._manifest or getattr(self.train_data, "manifest", None) or {}
        from ..data.imported import checkpoint_info

        return {
            "problem": manifest.get("problem"),
            "target": manifest.get("target"),
            "radius": self.config["data"].get("radius"),
            **checkpoint_info(manifest),
        }

    # ------------------------------------------------------------------ paths
    @property
    def last_path(self) -> Path:
        return self.out / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.out / "best.pt"

    # ------------------------------------------------------------------ setup
    def _build_model(self) -> nn.Module:
        builder = self._builder
        if builder is None:
            from ..models import build_model as builder
        from ..data.imported import model_config_for

        model = builder(model_config_for(self.config["model"], self._manifest or getattr(self.train_data, "manifest", None) or {}))
        model_config_of(model)  # must carry its config
        return model

    def _check_data(self, sets: Sequence[str] = ("training", "validation")) -> None:
        """NaN/inf or a missing target in any sample -> DataError before training starts."""
        for name, data in (("training", self.train_data), ("validation", self.val_data)):
            if name not in sets:
                continue
            for index in range(len(data)):
                item = data[index]
                try:
                    check_finite(item, index)
                except DataError as exc:
                    raise DataError(f"{name} set, {exc.problem}; fix or regenerate it before training") from None
                if getattr(item, "y", None) is None:
                    raise DataError(f"{name} set, sample #{index} has no target field 'y'")

    def _fit_normalizer(self) -> FieldNormalizer:
        """Fit the scales on the training set, checking every sample on the way.

        ``y`` is required; ``f`` and ``g`` are scaled when the data has them
        (elasticity data has no source ``f``).
        """
        try:
            return FieldNormalizer(required=("y",)).fit(self._checked(self.train_data), check=True)
        except DataError as exc:
            raise DataError(f"training set, {exc.problem}; fix or regenerate it before training") from None

    @staticmethod
    def _checked(data: Sequence[Data]):
        for index in range(len(data)):
            item = data[index]
            if getattr(item, "y", None) is None:
                raise DataError(f"sample #{index} has no target field 'y'")
            yield item

    def _resume_payload(self, ctx: DistContext) -> Optional[Dict[str, Any]]:
        if not self.last_path.exists():
            return None
        payload = load_checkpoint(self.last_path)
        old = payload.get("run_config")
        if not isinstance(old, dict):
            raise CheckpointError("checkpoint has no run config to resume from; use a new out folder", self.last_path)
        diffs = config_differences(old, self.config)
        if diffs:
            shown = ", ".join(diffs[:5]) + (" ..." if len(diffs) > 5 else "")
            raise ConfigError(
                f"out folder {self.out} holds a run with a different config ({shown}); "
                "use a new out folder, or restore the old config to resume it"
            )
        return payload

    def _save(self, path: Path, epoch: int, optimizer, scheduler) -> None:
        save_checkpoint(
            path,
            self.model,
            optimizer=optimizer,
            scheduler=scheduler,
            normalizer=self.normalizer,
            epoch=epoch,
            metrics={
                "history": self.history,
                "best_epoch": self.best_epoch,
                "best_score": _json_number(self.best_score),
            },
            run_config=self.config,
            extra={
                "bad_epochs": self.bad_epochs,
                "finished": self.finished,
                "stopped_early": self.stopped_early,
                "dataset": self.dataset_info(),
                "frame": training_frame(self.train_data),  # geometric frame + field ranges for predict
            },
        )

    def _write_metrics(self) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(METRIC_COLUMNS)
        for row in self.history:
            writer.writerow(["" if row[c] is None else row[c] for c in METRIC_COLUMNS])
        with atomic_write(self.out / "metrics.csv", mode="w") as handle:
            handle.write(buffer.getvalue())
        summary = {
            "columns": list(METRIC_COLUMNS),
            "epochs": self.history,
            "best_epoch": self.best_epoch,
            "best_val_rel_l2": _json_number(self.best_score) if self.val_data else None,
            "stopped_early": self.stopped_early,
            "finished": self.finished,
        }
        with atomic_write(self.out / "metrics.json", mode="w") as handle:
            json.dump(summary, handle, indent=2)

    # ------------------------------------------------------------------ loop
    def fit(self, stop_after: Optional[int] = None) -> Path:
        """Train until ``train.epochs``, early stopping, or ``stop_after`` epochs.

        Parameters
        ----------
        stop_after : int, optional
            Return after this many finished epochs (counted from 0, including
            resumed ones) without marking the run finished; calling ``fit`` again
            (or a new Trainer on the same out folder) resumes.

        Returns
        -------
        Path
            ``OUT/best.pt`` (``OUT/last.pt`` if no epoch improved).

        Raises
        ------
        ConfigError
            ``OUT/last.pt`` belongs to a run with a different config.
        CheckpointError
            ``OUT/last.pt`` is unreadable.
        DataError
            NaN/inf in the data, or a non-finite loss (naming epoch, step and samples).
        """
        own_ctx = self._ctx is None
        ctx = self._ctx or setup_distributed(self.train_cfg["device"])
        try:
            return self._fit(ctx, stop_after)
        finally:
            if own_ctx:
                cleanup_distributed(ctx)

    def _fit(self, ctx: DistContext, stop_after: Optional[int]) -> Path:
        cfg = self.train_cfg
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

        payload = self._resume_payload(ctx)
        if payload is not None and payload.get("extra", {}).get("finished"):
            if ctx.is_main:
                logger.info("run in %s is already complete (epoch %s); nothing to do", self.out, payload["epoch"])
            return self.best_path if self.best_path.exists() else self.last_path

        self._check_data(("validation",) if payload is None else ("training", "validation"))
        seed_everything(seed)
        model = self._build_model().to(device)
        self.model = model
        if payload is not None:
            self.normalizer = FieldNormalizer.from_state_dict(payload["normalizer"])
        else:
            self.normalizer = self._fit_normalizer()
            prepare = getattr(model, "prepare", None)
            if callable(prepare):  # data-dependent setup before the first epoch (NUNO's shared decomposition)
                prepare(self.train_data)
        optimizer = torch.optim.AdamW(model.parameters(), lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]))
        scheduler = build_scheduler(optimizer, cfg)
        start_epoch = 0
        if payload is not None:
            try:
                model.load_state_dict(payload["model_state"], strict=True)
                optimizer.load_state_dict(payload["optimizer_state"])
                if scheduler is not None:
                    scheduler.load_state_dict(payload["scheduler_state"])
            except (RuntimeError, ValueError, KeyError, TypeError) as exc:
                raise CheckpointError(f"cannot resume: state does not fit the model ({str(exc)[:160]})",
                                      self.last_path) from None
            metrics = payload.get("metrics", {})
            self.history = list(metrics.get("history", []))
            self.best_epoch = metrics.get("best_epoch")
            best = metrics.get("best_score")
            self.best_score = math.inf if best is None else float(best)
            self.bad_epochs = int(payload.get("extra", {}).get("bad_epochs", 0))
            start_epoch = int(payload["epoch"])
            if payload.get("rng_state"):
                set_rng_state(payload["rng_state"])
            if ctx.is_main:
                logger.info("resuming %s from epoch %d", self.out, start_epoch)
        elif ctx.is_main:
            writable_dir(self.out / "config.yaml")
            dump_run_config(self.config, self.out / "config.yaml")
        if ctx.is_main and payload is not None:
            self._write_metrics()  # the checkpoint is the source of truth after a kill
        ctx.barrier()

        train_model: nn.Module = model
        if ctx.is_distributed:
            from torch.nn.parallel import DistributedDataParallel

            train_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

        sampler = DistributedSampler(
            self.train_data, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed, drop_last=False
        )
        loader_gen = torch.Generator()
        loader = DataLoader(
            self.train_data, batch_size=per_rank, sampler=sampler, num_workers=int(cfg["num_workers"]),
            generator=loader_gen, pin_memory=device.type == "cuda",
        )
        val_shard = Subset(self.val_data, list(range(ctx.rank, len(self.val_data), ctx.world_size)))
        loss_fn = get_loss(cfg["loss"])
        epochs = int(cfg["epochs"])
        patience = cfg["patience"]
        min_delta = float(cfg["min_delta"])
        clip = cfg["grad_clip"]

        bar = tqdm(total=epochs, initial=start_epoch, desc="train", unit="epoch", disable=not show, dynamic_ncols=True)
        try:
            for epoch in range(start_epoch, epochs):
                t0 = time.perf_counter()
                seed_everything(_epoch_seed(seed, epoch))
                loader_gen.manual_seed(_epoch_seed(seed, epoch))
                sampler.set_epoch(epoch)
                lr = float(optimizer.param_groups[0]["lr"])
                train_model.train()
                loss_sum = torch.zeros(2, dtype=torch.float64)
                steps = tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", leave=False,
                             disable=not show, dynamic_ncols=True)
                for step, batch in enumerate(steps):
                    batch = self.normalizer(batch.to(device))
                    pred = train_model(batch)
                    if pred.shape[0] != batch.y.shape[0] or pred.numel() != batch.y.numel():
                        raise DataError(f"model output of shape {tuple(pred.shape)} does not match the target y "
                                        f"of shape {tuple(batch.y.shape)}")
                    loss = loss_fn(pred, batch.y.reshape(pred.shape), batch.batch)
                    self._check_loss(ctx, loss, epoch, step, batch)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if clip is not None:
                        nn.utils.clip_grad_norm_(model.parameters(), float(clip))
                    optimizer.step()
                    graphs = int(batch.num_graphs)
                    loss_sum += torch.tensor([float(loss.detach()) * graphs, graphs], dtype=torch.float64)
                    steps.set_postfix(loss=f"{float(loss.detach()):.4g}")
                totals = ctx.all_reduce_sum(loss_sum)
                train_loss = float(totals[0] / totals[1].clamp_min(1))

                acc = MetricAccumulator()
                if len(self.val_data):
                    evaluate_model(model, self.normalizer, val_shard, batch_size=per_rank, device=device,
                                   accumulator=acc)
                vals = ctx.all_reduce_sum(acc.sums())
                val_rel = float(vals[0] / vals[2]) if vals[2] > 0 else math.nan
                val_mae = float(vals[1] / vals[2]) if vals[2] > 0 else math.nan
                if scheduler is not None:
                    scheduler.step()

                score = val_rel if len(self.val_data) else train_loss
                improved = math.isfinite(score) and score < self.best_score - min_delta
                if improved:
                    self.best_score, self.best_epoch, self.bad_epochs = score, epoch + 1, 0
                else:
                    self.bad_epochs += 1
                row = {
                    "epoch": epoch + 1,
                    "train_loss": _json_number(train_loss),
                    "val_rel_l2": _json_number(val_rel),
                    "val_mae": _json_number(val_mae),
                    "lr": lr,
                    "seconds": round(time.perf_counter() - t0, 4),
                }
                self.history.append(row)
                if patience is not None and self.bad_epochs >= patience:
                    self.stopped_early = True
                self.finished = self.stopped_early or epoch + 1 >= epochs
                if ctx.is_main:
                    if improved:
                        self._save(self.best_path, epoch + 1, optimizer, scheduler)
                    self._save(self.last_path, epoch + 1, optimizer, scheduler)
                    self._write_metrics()
                    message = (f"epoch {epoch + 1}/{epochs}  train {train_loss:.4e}  val rel L2 {val_rel:.4e}  "
                               f"val MAE {val_mae:.4e}  lr {lr:.2e}  {row['seconds']:.1f}s"
                               + ("  *" if improved else ""))
                    if show:
                        tqdm.write(message, file=sys.stderr)
                    else:
                        logger.info(message)
                ctx.barrier()
                bar.update(1)
                bar.set_postfix(val=f"{val_rel:.3e}", best=self.best_epoch)
                if self.on_epoch_end is not None:
                    self.on_epoch_end(dict(row))
                if self.stopped_early:
                    if ctx.is_main:
                        logger.info("early stop after epoch %d: no improvement for %d epochs",
                                    epoch + 1, self.bad_epochs)
                    break
                if stop_after is not None and epoch + 1 >= stop_after:
                    break
        finally:
            bar.close()
        return self.best_path if self.best_path.exists() else self.last_path

    def _check_loss(self, ctx: DistContext, loss: torch.Tensor, epoch: int, step: int, batch: Data) -> None:
        bad = not bool(torch.isfinite(loss.detach()).all())
        ids = batch_sample_ids(batch)
        if ctx.is_distributed:  # every rank must stop together or the others hang in backward
            flag = ctx.all_reduce_sum(torch.tensor([float(bad)], dtype=torch.float64))
            if flag[0] == 0:
                return
            import torch.distributed as dist

            gathered: List[Any] = [None] * ctx.world_size
            dist.all_gather_object(gathered, ids if bad else [])
            ids = [i for part in gathered for i in part]
        elif not bad:
            return
        raise DataError(
            f"loss is {float(loss.detach())} at epoch {epoch + 1}, step {step + 1}; batch samples "
            f"{ids}; check these samples for extreme values, or lower train.lr"
        )


def split_run_data(config: Mapping[str, Any], progress: bool = False):
    """Open ``data.root`` and split it into (train, val, test) as the run config says.

    Families in ``test_families`` only are test data; families in
    ``train_families`` only are split into train and validation
    (``val_fraction``). A family in both lists (BENO: train on 4 cut-outs,
    test on 0-4) first gives ``test_fraction`` of its samples to the test part.
    With ``data.cache`` every graph is built once and kept in memory.

    Returns
    -------
    (train, val, test) : sequences of Data
    """
    from ..data import MeshDataset, split_by_family

    data_cfg = config["data"]
    seed = int(config["train"]["seed"])
    dataset = MeshDataset(data_cfg["root"], families=data_cfg["families"], radius=data_cfg["radius"])
    train_f, test_f = data_cfg["train_families"], data_cfg["test_families"]
    shared = sorted(set(train_f or ()) & set(test_f or ()))
    held: List[int] = []
    if shared:
        families = np.asarray(dataset.families_of_items())
        rng = np.random.default_rng([seed, 1])
        for fam in shared:
            members = np.flatnonzero(families == fam)
            count = int(round(float(data_cfg["test_fraction"]) * len(members)))
            held += rng.permutation(members)[:count].tolist()
        rest = dataset.index_select(sorted(set(range(len(dataset))) - set(held)))
        only_test = sorted(set(test_f) - set(shared))
        train_set, val_set, test_rest = split_by_family(
            rest, train_families=train_f, test_families=only_test or None,
            val_fraction=data_cfg["val_fraction"], seed=seed,
        )
        test_set = dataset.index_select(sorted(held + list(test_rest.indices())))
    else:
        train_set, val_set, test_set = split_by_family(
            dataset, train_families=train_f, test_families=test_f, val_fraction=data_cfg["val_fraction"], seed=seed,
        )
    if data_cfg["cache"]:
        train_set, val_set = (
            [part[i] for i in tqdm(range(len(part)), desc=f"load {name}", unit="graph", disable=not progress,
                                   leave=False)]
            for name, part in (("train", train_set), ("val", val_set))
        )
    return train_set, val_set, test_set


def train(
    run_config: Union[PathLike, Mapping[str, Any]],
    progress: Optional[bool] = None,
    builder: Optional[ModelBuilder] = None,
    on_epoch_end: Optional[Callable[[Dict[str, Any]], None]] = None,
) -> Path:
    """Train the model of a run config on its dataset; the library side of ``graphops train``.

    Opens ``data.root`` with :class:`graphops.data.MeshDataset`, splits it with
    :func:`graphops.data.split_by_family`, trains (resuming from ``OUT/last.pt``
    when present), then evaluates ``best.pt`` on the test families and writes
    ``OUT/test_metrics.json``. Under ``torchrun`` each process calls this.

    Parameters
    ----------
    run_config : path-like or mapping
    progress : bool, optional
        tqdm bars (default: when stderr is a terminal).
    builder : callable, optional
        ``model config -> nn.Module`` (default :func:`graphops.models.build_model`).
    on_epoch_end : callable, optional
        Called with each epoch's metrics row (see :class:`Trainer`).

    Returns
    -------
    Path
        The best checkpoint.
    """
    config = load_run_config(run_config)
    ctx = setup_distributed(config["train"]["device"])
    try:
        show = ctx.is_main and (sys.stderr.isatty() if progress is None else progress)
        train_set, val_set, test_set = split_run_data(config, progress=show)
        from ..data import read_manifest

        trainer = Trainer(config, train_set, val_set, builder=builder, dist_ctx=ctx, progress=progress,
                          manifest=read_manifest(config["data"]["root"]), on_epoch_end=on_epoch_end)
        best = trainer.fit()
        if ctx.is_main and test_set is not None and len(test_set):
            from .evaluate import evaluate

            result = evaluate(best, test_set, device=str(ctx.device), builder=builder,
                              batch_size=int(config["train"]["batch_size"]), progress=False)
            result["dataset"] = config["data"]["root"]
            with atomic_write(Path(config["out"]).expanduser() / "test_metrics.json", mode="w") as handle:
                json.dump(result, handle, indent=2)
        ctx.barrier()
        return best
    finally:
        cleanup_distributed(ctx)
