"""Evaluate a trained model: relative L2 and MAE per family, in physical units."""
from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from ..errors import CheckpointError, DataError, GraphopsError
from .checkpoint import ModelBuilder, load_model
from .distributed import resolve_device
from .metrics import MetricAccumulator
from .normalize import FieldNormalizer, check_finite

PathLike = Union[str, "os.PathLike[str]"]


def batch_sample_ids(batch: Data) -> List[Any]:
    """The ``sample_id`` of every graph in a batch (graph positions when absent)."""
    ids = getattr(batch, "sample_id", None)
    count = int(batch.num_graphs) if hasattr(batch, "num_graphs") else 1
    if ids is None:
        return [None] * count
    if isinstance(ids, torch.Tensor):
        ids = ids.reshape(-1).tolist()
    elif not isinstance(ids, (list, tuple)):
        ids = [ids]
    return list(ids)


def batch_families(batch: Data) -> Optional[torch.Tensor]:
    """The ``family`` of every graph in a batch, shape (G,), or ``None``."""
    fam = getattr(batch, "family", None)
    if fam is None:
        return None
    if isinstance(fam, torch.Tensor):
        return fam.reshape(-1)
    return torch.as_tensor(fam).reshape(-1)


def evaluate_model(
    model: nn.Module,
    normalizer: Optional[FieldNormalizer],
    dataset: Sequence[Data],
    batch_size: int = 8,
    device: Union[str, torch.device] = "cpu",
    predictions: bool = False,
    progress: bool = False,
    accumulator: Optional[MetricAccumulator] = None,
) -> "tuple[MetricAccumulator, List[Dict[str, Any]]]":
    """Run ``model`` over ``dataset`` and collect per-graph errors in physical units.

    Parameters
    ----------
    model : nn.Module
        ``forward(batch) -> (N, C)`` in normalised units of ``y``.
    normalizer : FieldNormalizer or None
        Applied to each batch before the model; its ``inverse_y`` maps predictions back.
    dataset : sequence of Data
        Graphs with target ``y`` (N,) or (N, C).
    batch_size : int
    device : str or torch.device
    predictions : bool
        Also return each graph's prediction (N_i, C) on the CPU.
    progress : bool
        Show a tqdm bar.
    accumulator : MetricAccumulator, optional
        Add to this one instead of a new one.

    Returns
    -------
    accumulator : MetricAccumulator
    samples : list of dict
        Per graph: ``sample_id``, ``family``, ``rel_l2``, ``mae`` (and ``pred`` when asked).

    Raises
    ------
    DataError
        A graph without ``y``, NaN/inf in inputs, or predictions that do not match ``y``.
    """
    acc = accumulator if accumulator is not None else MetricAccumulator()
    samples: List[Dict[str, Any]] = []
    if len(dataset) == 0:
        return acc, samples
    device = torch.device(device)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in tqdm(loader, desc="evaluate", unit="batch", disable=not progress, leave=False):
                if getattr(batch, "y", None) is None:
                    raise DataError("dataset has no target field 'y' to evaluate against")
                check_finite(batch, 0)
                batch = batch.to(device)
                y_true = batch.y
                model_in = normalizer(batch) if normalizer is not None else batch
                pred = model(model_in)
                if not isinstance(pred, torch.Tensor) or pred.shape[0] != y_true.shape[0] \
                        or pred.numel() != y_true.numel():
                    raise DataError(
                        f"model output of shape {tuple(getattr(pred, 'shape', ()))} does not match "
                        f"the target y of shape {tuple(y_true.shape)}"
                    )
                pred = pred.reshape(y_true.shape[0], -1)
                if normalizer is not None:
                    pred = normalizer.inverse_y(pred)
                target = y_true.reshape(y_true.shape[0], -1)
                families = batch_families(batch)
                rel, mae = acc.add(pred, target, batch.batch, families)
                ids = batch_sample_ids(batch)
                fam_list = families.tolist() if families is not None else [None] * len(ids)
                ptr = batch.ptr.tolist() if hasattr(batch, "ptr") and batch.ptr is not None else [0, pred.shape[0]]
                for i in range(rel.numel()):
                    row: Dict[str, Any] = {
                        "sample_id": ids[i] if i < len(ids) else None,
                        "family": fam_list[i] if i < len(fam_list) else None,
                        "rel_l2": float(rel[i]),
                        "mae": float(mae[i]),
                    }
                    if predictions:
                        row["pred"] = pred[ptr[i]:ptr[i + 1]].detach().cpu()
                    samples.append(row)
    finally:
        model.train(was_training)
    return acc, samples


def _filter_families(dataset: Sequence[Data], families: Optional[Iterable[int]]) -> Sequence[Data]:
    if families is None:
        return dataset
    wanted = {int(f) for f in families}
    kept = []
    for data in dataset:
        fam = getattr(data, "family", None)
        fam = int(fam.reshape(-1)[0]) if isinstance(fam, torch.Tensor) else fam
        if fam in wanted:
            kept.append(data)
    return kept


def _open_dataset(
    dataset: Union[PathLike, Sequence[Data]], families: Optional[Iterable[int]], radius: Optional[float] = None
) -> Sequence[Data]:
    if isinstance(dataset, (str, os.PathLike)):
        try:
            from ..data import MeshDataset
        except ImportError as exc:  # pragma: no cover - data ships with the package
            raise GraphopsError(f"graphops.data is not available ({exc})") from None
        fams = None if families is None else [int(f) for f in families]
        return MeshDataset(dataset, families=fams, radius=radius)
    return _filter_families(dataset, families)


def evaluate(
    checkpoint: PathLike,
    dataset_root: Union[PathLike, Sequence[Data]],
    families: Optional[Iterable[int]] = None,
    batch_size: int = 8,
    device: str = "auto",
    predictions: bool = False,
    progress: Optional[bool] = None,
    builder: Optional[ModelBuilder] = None,
) -> Dict[str, Any]:
    """Relative L2 and MAE of a checkpoint's model on a dataset, overall and per family.

    Parameters
    ----------
    checkpoint : path-like
        A graphops checkpoint (``best.pt``).
    dataset_root : path-like or sequence of Data
        A generated dataset folder (opened with :class:`graphops.data.MeshDataset`,
        with the graph ``radius`` the model was trained with) or graphs in memory.
    families : iterable of int, optional
        Only these families (default all).
    batch_size : int
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    predictions : bool
        Include each sample's prediction, a (N_i, C) tensor in physical units,
        as ``samples[i]["pred"]``.
    progress : bool, optional
        tqdm bar (default: when stderr is a terminal).
    builder : callable, optional
        ``config -> nn.Module`` (default :func:`graphops.models.build_model`).

    Returns
    -------
    dict
        ``checkpoint``, ``model``, ``epoch``, ``overall`` and ``families``
        (each ``{"samples", "rel_l2", "rel_l2_std", "mae"}``, families keyed by
        ``str(family)``), and ``samples`` (per sample ``sample_id``, ``family``,
        ``rel_l2``, ``mae``).

    Raises
    ------
    CheckpointError, DataError
    """
    import sys

    dev = resolve_device(device)
    model, normalizer, meta = load_model(checkpoint, map_location=dev, builder=builder)
    from ..tasks import decide_task

    decide_task(checkpoint=meta, require="fields", command="evaluate", path=checkpoint)
    run_config = meta.get("run_config") or {}
    radius = (run_config.get("data") or {}).get("radius")  # build graphs as in training
    data = _open_dataset(dataset_root, families, radius)
    if len(data) == 0:
        where = dataset_root if isinstance(dataset_root, (str, os.PathLike)) else None
        raise DataError("no samples to evaluate" + (f" in families {sorted(families)}" if families else ""), where)
    show = sys.stderr.isatty() if progress is None else progress
    acc, samples = evaluate_model(model, normalizer, data, batch_size=batch_size, device=dev,
                                  predictions=predictions, progress=show)
    summary = acc.summary()
    return {
        "checkpoint": os.fspath(checkpoint),
        "model": meta["model_name"],
        "epoch": meta["epoch"],
        "dataset": os.fspath(dataset_root) if isinstance(dataset_root, (str, os.PathLike)) else None,
        "overall": summary["overall"],
        "families": summary["families"],
        "samples": samples,
    }


def format_table(result: Dict[str, Any]) -> str:
    """A plain-text table: family, samples, relative L2 (mean ± std), MAE; last row all."""
    rows = [("family", "samples", "rel L2", "rel L2 std", "MAE")]
    for fam, stats in result["families"].items():
        rows.append((fam, str(stats["samples"]), f"{stats['rel_l2']:.4e}", f"{stats['rel_l2_std']:.2e}",
                     f"{stats['mae']:.4e}"))
    o = result["overall"]
    rows.append(("all", str(o["samples"]), f"{o['rel_l2']:.4e}", f"{o['rel_l2_std']:.2e}", f"{o['mae']:.4e}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
