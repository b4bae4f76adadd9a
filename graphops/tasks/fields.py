"""The ``fields`` task: a field on a mesh or point cloud from fields and geometry on it.

Models: BENO, MeshGraphNet, GNO, NU-FNO, the global FNO. Data: a sharded
dataset of graphs (:class:`graphops.data.MeshDataset`: generated or imported),
split by family. A batch is a PyG batch of graphs, normalised by a
:class:`~graphops.train.normalize.FieldNormalizer` fitted on the training set;
the loss is ``train.loss`` (relative L2 per graph, or MSE) against ``y``;
validation reports the relative L2 and MAE in physical units. One unit of the
loop is one epoch.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping

import numpy as np
import torch
from torch import nn
from torch.utils.data import DistributedSampler, Subset
from tqdm.auto import tqdm

from ..errors import DataError
from .base import PathLike, Task, TaskData


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


class FieldsTask(Task):
    """Fields on meshes: graphs in, a per-node field out (see the module docstring)."""

    name = "fields"
    unit = "epoch"
    length_key = "epochs"
    columns = ("epoch", "train_loss", "val_rel_l2", "val_mae", "lr", "seconds")
    labels = {"train_loss": "train", "val_rel_l2": "val rel L2", "val_mae": "val MAE"}
    score = "val_rel_l2"
    last_name = "last.pt"
    best_name = "best.pt"
    model_noun = "field model"

    def __init__(self, config, train_data, val_data=(), manifest=None, test_data=None) -> None:
        super().__init__(config, train_data, val_data, manifest)
        self.test_data = test_data
        self._normalizer = None
        if len(train_data) == 0:
            raise DataError("the training set is empty (check data.root and data.train_families)")

    # ------------------------------------------------------------------ config and data
    @classmethod
    def wrong_model_message(cls, model_name: str) -> str:
        return f"{model_name} is a particle-dynamics model, not a field model"

    @classmethod
    def open_data(cls, config, progress: bool = False):
        from ..data import read_manifest

        train_set, val_set, test_set = split_run_data(config, progress=progress)
        return TaskData(train_set, val_set, read_manifest(config["data"]["root"]), {"test_data": test_set})

    # ------------------------------------------------------------------ training hooks
    def check_data(self, resuming: bool) -> None:
        """NaN/inf or a missing target in any sample -> DataError before training starts.

        A new run checks the training set while fitting the normaliser (:meth:`prepare`).
        """
        from ..train.normalize import check_finite

        sets = (("training", self.train_data),) if resuming else ()
        for name, data in sets + (("validation", self.val_data),):
            for index in range(len(data)):
                item = data[index]
                try:
                    check_finite(item, index)
                except DataError as exc:
                    raise DataError(f"{name} set, {exc.problem}; fix or regenerate it before training") from None
                if getattr(item, "y", None) is None:
                    raise DataError(f"{name} set, sample #{index} has no target field 'y'")

    def _checked(self):
        for index in range(len(self.train_data)):
            item = self.train_data[index]
            if getattr(item, "y", None) is None:
                raise DataError(f"sample #{index} has no target field 'y'")
            yield item

    def prepare(self, model: nn.Module, payload, device) -> None:
        """Fit the normaliser on the training set (``y`` required; ``f``, ``g`` when present) and
        call ``model.prepare(train_data)`` (NUNO's shared decomposition); a resumed run restores the scales."""
        from ..train.normalize import FieldNormalizer

        if payload is not None:
            self._normalizer = FieldNormalizer.from_state_dict(payload["normalizer"])
            return
        try:
            self._normalizer = FieldNormalizer(required=("y",)).fit(self._checked(), check=True)
        except DataError as exc:
            raise DataError(f"training set, {exc.problem}; fix or regenerate it before training") from None
        prepare = getattr(model, "prepare", None)
        if callable(prepare):
            prepare(self.train_data)

    @property
    def normalizer(self):
        return self._normalizer

    def model_config(self) -> Dict[str, Any]:
        """The model section with the channel counts an imported dataset implies filled in."""
        from ..data.imported import model_config_for

        return model_config_for(self.config["model"], self.manifest or {})

    def checkpoint_extra(self) -> Dict[str, Any]:
        """The training set's geometric frame and field ranges, which ``predict`` maps new meshes into."""
        if not hasattr(self, "_frame"):
            from ..data.frame import training_frame

            self._frame = training_frame(self.train_data)
        return {"frame": self._frame}

    def start(self, ctx, per_rank: int, device: torch.device) -> None:
        from torch_geometric.loader import DataLoader

        from ..train.losses import get_loss

        cfg = self.config["train"]
        self._sampler = DistributedSampler(self.train_data, num_replicas=ctx.world_size, rank=ctx.rank,
                                           shuffle=True, seed=int(cfg["seed"]), drop_last=False)
        self._generator = torch.Generator()
        self._loader = DataLoader(self.train_data, batch_size=per_rank, sampler=self._sampler,
                                  num_workers=int(cfg["num_workers"]), generator=self._generator,
                                  pin_memory=device.type == "cuda")
        self._val_shard = Subset(self.val_data, list(range(ctx.rank, len(self.val_data), ctx.world_size)))
        self._loss_fn = get_loss(cfg["loss"])

    def batches(self, unit: int, ctx, seed: int) -> Iterable[Any]:
        self._generator.manual_seed(seed)
        self._sampler.set_epoch(unit)
        return self._loader

    def loss(self, train_model, batch, device):
        batch = self._normalizer(batch.to(device))
        pred = train_model(batch)
        if pred.shape[0] != batch.y.shape[0] or pred.numel() != batch.y.numel():
            raise DataError(f"model output of shape {tuple(pred.shape)} does not match the target y "
                            f"of shape {tuple(batch.y.shape)}")
        loss = self._loss_fn(pred, batch.y.reshape(pred.shape), batch.batch)
        return loss, int(batch.num_graphs), {}

    def batch_ids(self, batch) -> List[Any]:
        from ..train.evaluate import batch_sample_ids

        return batch_sample_ids(batch)

    def nonfinite_message(self, value, unit, step, ids) -> str:
        return (f"loss is {value} at epoch {unit + 1}, step {step + 1}; batch samples {ids}; "
                "check these samples for extreme values, or lower train.lr")

    def validate(self, model, ctx, batch_size):
        from ..train.evaluate import evaluate_model
        from ..train.metrics import MetricAccumulator

        acc = MetricAccumulator()
        if len(self.val_data):
            evaluate_model(model, self._normalizer, self._val_shard, batch_size=batch_size, device=ctx.device,
                           accumulator=acc)
        vals = ctx.all_reduce_sum(acc.sums())
        rel = float(vals[0] / vals[2]) if vals[2] > 0 else math.nan
        mae = float(vals[1] / vals[2]) if vals[2] > 0 else math.nan
        return {"val_rel_l2": rel, "val_mae": mae}, {}

    def finish(self, best, ctx, builder=None) -> None:
        """Evaluate ``best`` on the test set; write ``OUT/test_metrics.json``."""
        from ..utils.atomic import atomic_write

        if self.test_data is None or not len(self.test_data):
            return
        result = self.evaluate(best, self.test_data, device=str(ctx.device), builder=builder,
                               batch_size=int(self.config["train"]["batch_size"]), progress=False)
        result["dataset"] = self.config["data"]["root"]
        with atomic_write(Path(self.config["out"]).expanduser() / "test_metrics.json", mode="w") as handle:
            json.dump(result, handle, indent=2)

    @classmethod
    def report(cls, config, checkpoint) -> str:
        """The best checkpoint, its validation relative L2 and the test table."""
        from ..train.evaluate import format_table

        out = Path(config["out"]).expanduser()
        lines = [f"best checkpoint: {checkpoint}"]
        metrics = out / "metrics.json"
        if metrics.exists():
            summary = json.loads(metrics.read_text())
            if summary.get("best_epoch") is not None and summary.get("best_val_rel_l2") is not None:
                lines.append(f"best epoch {summary['best_epoch']}: validation relative L2 "
                             f"{summary['best_val_rel_l2']:.4e}")
        test = out / "test_metrics.json"
        if test.exists():
            lines.append(format_table(json.loads(test.read_text())))
        return "\n".join(lines)

    # ------------------------------------------------------------------ inference
    @classmethod
    def evaluate(cls, checkpoint: PathLike, data: Any, **options: Any) -> Dict[str, Any]:
        """Relative L2 and MAE per family: :func:`graphops.train.evaluate.evaluate`."""
        from ..errors import ConfigError
        from ..train.evaluate import evaluate

        if options.pop("steps", None) is not None:
            raise ConfigError("--steps is for trajectory datasets (giorom, gns checkpoints)")
        return evaluate(checkpoint, data, **options)

    @classmethod
    def format_result(cls, result, data) -> str:
        from ..train.evaluate import format_table

        return f"{result['model']} (epoch {result['epoch']}) on {data}\n{format_table(result)}"
