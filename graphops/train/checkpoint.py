"""Checkpoints: weights + model config + normaliser (+ training state), saved atomically.

A checkpoint is a ``torch.save`` file holding a plain dict::

    format            "graphops-checkpoint"
    format_version    FORMAT_VERSION
    graphops_version  library version that wrote it
    model_name        model_config["name"]
    model_config      the dict :func:`graphops.models.build_model` takes
    model_state       the model's state_dict
    normalizer        FieldNormalizer.state_dict() (or None)
    optimizer_state, scheduler_state, epoch, metrics, run_config, rng_state, extra

Only tensors, numbers, strings, lists, tuples and dicts are stored, so it loads
with ``torch.load(weights_only=True)``: opening a checkpoint never runs code.
"""
from __future__ import annotations

import os
import pickle
import random
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..errors import CheckpointError, ConfigError, GraphopsError
from ..utils.atomic import atomic_path
from .normalize import FieldNormalizer

PathLike = Union[str, "os.PathLike[str]"]

FORMAT = "graphops-checkpoint"
FORMAT_VERSION = 1

ModelBuilder = Callable[[dict], nn.Module]


def _unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside a DistributedDataParallel / DataParallel wrapper."""
    return getattr(model, "module", model)


def model_config_of(model: nn.Module) -> Dict[str, Any]:
    """The model's ``config`` dict (must exist and name the model)."""
    config = getattr(_unwrap(model), "config", None)
    if not isinstance(config, Mapping) or not isinstance(config.get("name"), str):
        raise ConfigError(f"model {type(_unwrap(model)).__name__} has no .config dict with a 'name'")
    return dict(config)


def rng_state() -> Dict[str, Any]:
    """The states of Python's, NumPy's and torch's (CPU and CUDA) random generators."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {
            "kind": str(np_state[0]),
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore generator states written by :func:`rng_state` (missing parts are skipped)."""
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        s = state["numpy"]
        keys = s["keys"].numpy().astype(np.uint32)
        np.random.set_state((s["kind"], keys, int(s["pos"]), int(s["has_gauss"]), float(s["cached_gaussian"])))
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def save_checkpoint(
    path: PathLike,
    model: nn.Module,
    optimizer: Optional[torch.optim.Optimizer] = None,
    scheduler: Optional[Any] = None,
    normalizer: Optional[FieldNormalizer] = None,
    epoch: int = 0,
    metrics: Optional[Mapping[str, Any]] = None,
    run_config: Optional[Mapping[str, Any]] = None,
    extra: Optional[Mapping[str, Any]] = None,
    include_rng: bool = True,
) -> Path:
    """Write a checkpoint atomically (the file is complete or not there at all).

    Parameters
    ----------
    path : path-like
        Destination ``.pt`` file; its folder is created.
    model : nn.Module
        The model (DDP wrapper allowed); must have a ``.config`` dict with ``"name"``.
    optimizer, scheduler : optional
        Their ``state_dict()`` is stored for resuming.
    normalizer : FieldNormalizer, optional
        Its scales are stored so predictions can be mapped back to physical units.
    epoch : int
        Number of finished epochs.
    metrics : mapping, optional
        Metrics of the run so far (plain numbers, strings, lists, dicts).
    run_config : mapping, optional
        The run config the model was trained with.
    extra : mapping, optional
        Further plain values (trainer state).
    include_rng : bool
        Store the random generators' states.

    Returns
    -------
    Path
        ``path``.
    """
    inner = _unwrap(model)
    config = model_config_of(inner)
    payload: Dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "graphops_version": __version__,
        "model_name": config["name"],
        "model_config": config,
        "model_state": {k: v.detach().cpu() for k, v in inner.state_dict().items()},
        "normalizer": None if normalizer is None else normalizer.state_dict(),
        "optimizer_state": None if optimizer is None else optimizer.state_dict(),
        "scheduler_state": None if scheduler is None else scheduler.state_dict(),
        "epoch": int(epoch),
        "metrics": dict(metrics or {}),
        "run_config": None if run_config is None else dict(run_config),
        "rng_state": rng_state() if include_rng else None,
        "extra": dict(extra or {}),
    }
    final = Path(path).expanduser()
    with atomic_path(final) as tmp:
        try:
            torch.save(payload, tmp)
        except RuntimeError:  # torch reports a failed write (disk full, file too large) as RuntimeError
            raise CheckpointError("cannot write the checkpoint: the write failed (disk full or file size limit?)",
                                  final) from None
    return final


def _check_zip_crc(file: Path) -> None:
    """Verify the CRC-32 of every member of a (zip-format) torch file: torch.load does not, so flipped bits
    in the weights would otherwise load silently."""
    if not zipfile.is_zipfile(file):
        return  # torch.load reports non-zip files itself
    try:
        with zipfile.ZipFile(file) as archive:
            bad = archive.testzip()
    except Exception as exc:  # zipfile raises BadZipFile, EOFError, struct.error... on damaged archives
        raise CheckpointError(f"checkpoint is corrupt or truncated (broken zip archive: {type(exc).__name__})", file) \
            from None
    if bad is not None:
        raise CheckpointError(f"checkpoint is corrupt: its member {bad!r} fails the CRC check", file)


def load_checkpoint(path: PathLike, map_location: Union[str, torch.device] = "cpu") -> Dict[str, Any]:
    """Read and check a checkpoint with ``torch.load(weights_only=True)``.

    Parameters
    ----------
    path : path-like
        A file written by :func:`save_checkpoint`.
    map_location : str or torch.device
        Where tensors are loaded.

    Returns
    -------
    dict
        The stored payload (see the module docstring).

    Raises
    ------
    CheckpointError
        Missing file, corrupt or truncated file, unsafe content, a file that is
        not a graphops checkpoint, or a checkpoint format this version cannot read.
    """
    file = Path(path).expanduser()
    if not file.exists():
        raise CheckpointError("checkpoint file not found", file)
    if not file.is_file():
        raise CheckpointError("checkpoint path is not a file", file)
    _check_zip_crc(file)
    try:
        payload = torch.load(file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Unsupported global" in text or "GLOBAL" in text or "allowlist" in text:
            raise CheckpointError(
                "checkpoint holds objects that cannot be loaded safely (not a graphops checkpoint?)", file
            ) from None
        raise CheckpointError("checkpoint is corrupt or truncated (cannot unpickle it)", file) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, AttributeError, ImportError,
            KeyError, IndexError, TypeError, MemoryError, OverflowError):
        raise CheckpointError("checkpoint is corrupt, truncated or not a torch file (torch.load failed)", file) \
            from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            "not a graphops checkpoint (a bare state_dict or another program's file?); "
            "graphops needs the model config stored beside the weights",
            file,
        )
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint format version {version} written by graphops {payload.get('graphops_version', '?')}; "
            f"this graphops {__version__} reads format version {FORMAT_VERSION}",
            file,
        )
    for key in ("model_name", "model_config", "model_state"):
        if key not in payload:
            raise CheckpointError(f"checkpoint is incomplete (no {key!r})", file)
    if not isinstance(payload["model_config"], dict) or payload["model_config"].get("name") != payload["model_name"]:
        raise CheckpointError("checkpoint's model config does not name its model", file)
    return payload


def _default_builder() -> ModelBuilder:
    try:
        from ..models import build_model
    except ImportError as exc:  # pragma: no cover - models ship with the package
        raise CheckpointError(f"graphops.models is not available ({exc})") from None
    return build_model


def build_from_checkpoint(
    payload: Mapping[str, Any],
    path: PathLike,
    builder: Optional[ModelBuilder] = None,
    expected_model: Optional[str] = None,
) -> nn.Module:
    """Rebuild the model of a loaded checkpoint from its config and load its weights.

    Raises
    ------
    CheckpointError
        The checkpoint holds another model than ``expected_model``, its config is
        unknown to ``builder``, or the weights do not fit the rebuilt model.
    """
    name = payload["model_name"]
    if expected_model is not None and name != expected_model:
        raise CheckpointError(f"checkpoint holds a {name!r} model, expected a {expected_model!r} model", path)
    builder = builder or _default_builder()
    from ..models.registry import saved_config

    try:
        model = builder(saved_config(payload["model_config"]))
    except GraphopsError as exc:
        raise CheckpointError(f"cannot rebuild model {name!r} from the stored config ({exc.problem})", path) from None
    try:
        model.load_state_dict(payload["model_state"], strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:200]
        raise CheckpointError(f"weights do not fit model {name!r} built from the stored config ({detail})", path) \
            from None
    return model


def load_model(
    path: PathLike,
    map_location: Union[str, torch.device] = "cpu",
    builder: Optional[ModelBuilder] = None,
    expected_model: Optional[str] = None,
) -> Tuple[nn.Module, Optional[FieldNormalizer], Dict[str, Any]]:
    """Rebuild a trained model from a checkpoint alone.

    Parameters
    ----------
    path : path-like
        Checkpoint file.
    map_location : str or torch.device
        Device for the model.
    builder : callable, optional
        ``config dict -> nn.Module``; default :func:`graphops.models.build_model`.
    expected_model : str, optional
        Raise if the checkpoint holds another model kind.

    Returns
    -------
    model : nn.Module
        In eval mode, on ``map_location``.
    normalizer : FieldNormalizer or None
        The scales the model was trained with.
    meta : dict
        ``model_name``, ``model_config``, ``epoch``, ``metrics``, ``run_config``,
        ``graphops_version``, ``format_version``, ``extra`` (incl. ``dataset``: problem, target, radius), ``path``.

    Raises
    ------
    CheckpointError
        See :func:`load_checkpoint` and :func:`build_from_checkpoint`.
    """
    file = Path(path).expanduser()
    payload = load_checkpoint(file, map_location="cpu")
    model = build_from_checkpoint(payload, file, builder=builder, expected_model=expected_model)
    model.to(map_location).eval()
    normalizer = None
    if payload.get("normalizer") is not None:
        try:
            normalizer = FieldNormalizer.from_state_dict(payload["normalizer"])
        except CheckpointError as exc:
            raise CheckpointError(exc.problem, file) from None
    meta = {
        key: payload.get(key)
        for key in ("model_name", "model_config", "epoch", "metrics", "run_config", "graphops_version",
                    "format_version", "extra")
    }
    meta["path"] = str(file)
    return model, normalizer, meta


def checkpoint_frame(meta: Mapping[str, Any], path: PathLike, recompute: bool = True):
    """The training data's frame of a checkpoint (:class:`graphops.data.frame.Frame`), or None.

    Checkpoints written since the frame was introduced store it in
    ``extra["frame"]`` (see :func:`graphops.data.frame.training_frame`). For
    older ones it is recomputed from the training split of the run config's
    dataset when that is still on disk (``recompute``); otherwise None (the
    caller falls back to the problem's own frame).

    Parameters
    ----------
    meta : mapping
        The ``meta`` of :func:`load_model`.
    path : path-like
        The checkpoint (for error messages).
    recompute : bool
        Recompute a missing frame from the training dataset.

    Raises
    ------
    CheckpointError
        A stored frame that cannot be read.
    """
    from ..data.frame import Frame, frame_from_graphs

    stored = (meta.get("extra") or {}).get("frame")
    if stored is not None:
        try:
            return Frame.from_dict(stored, source="checkpoint")
        except (ValueError, KeyError, TypeError):
            raise CheckpointError("the checkpoint's training frame is malformed", path) from None
    run_config = meta.get("run_config")
    if not recompute or not isinstance(run_config, Mapping) or not (run_config.get("data") or {}).get("root"):
        return None
    try:
        from .config import load_run_config
        from .trainer import split_run_data

        config = load_run_config(dict(run_config))
        config["data"]["cache"] = False  # one pass over the graphs: no need to keep them
        train_set = split_run_data(config)[0]
        return frame_from_graphs(train_set, source="dataset")
    except (GraphopsError, ImportError, OSError, ValueError, KeyError, TypeError):
        return None  # dataset gone, moved or changed: the problem's frame is used instead
