"""The run configuration of ``graphops train``: a YAML file or a dict, validated.

A run config has four sections::

    data:  {root: runs/data/poisson-dirichlet, train_families: [4],
            test_families: [0, 1, 2, 3, 4], val_fraction: 0.1}
    model: {name: beno, hidden: 64, layers: 4}
    train: {epochs: 30, batch_size: 8, lr: 1.0e-3, weight_decay: 1.0e-4,
            scheduler: cosine, patience: 10, seed: 0, device: auto, loss: rel_l2}
    out:   runs/beno

:func:`load_run_config` fills in defaults and checks every key; a problem
raises :class:`~graphops.errors.ConfigError` naming the key (``train.lr``) and
the file. The ``model`` section is passed unchanged to
:func:`graphops.models.build_model`, which validates it.
"""
from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple, Union

from ..errors import ConfigError

PathLike = Union[str, "os.PathLike[str]"]

SCHEDULERS = ("cosine", "step", "onecycle", "none")
LOSSES = ("rel_l2", "mse")

#: Defaults of the ``data`` section (``root`` has none: it is required).
DATA_DEFAULTS: Dict[str, Any] = {
    "families": None,
    "train_families": None,
    "test_families": None,
    "val_fraction": 0.1,
    "test_fraction": 0.1,  # share of a family in both train_families and test_families held out for testing
    "cache": True,  # build every graph once and keep it in memory
    "radius": None,  # also connect nodes closer than this (passed to MeshDataset)
}

#: Defaults of the ``train`` section.
TRAIN_DEFAULTS: Dict[str, Any] = {
    "epochs": 30,
    "batch_size": 8,
    "lr": 1.0e-3,
    "weight_decay": 1.0e-4,
    "scheduler": "cosine",
    "step_size": None,  # step scheduler: epochs between decays (default epochs // 3)
    "gamma": 0.5,  # step scheduler: decay factor
    "min_lr": 0.0,  # cosine scheduler: final learning rate
    "patience": 10,  # epochs without validation improvement before stopping; null = never
    "min_delta": 0.0,  # an improvement must beat the best by more than this
    "grad_clip": None,  # max gradient norm; null = no clipping
    "seed": 0,
    "device": "auto",
    "loss": "rel_l2",
    "num_workers": 0,
}

#: Keys that change how a run executes but not its result: a resumed run may
#: differ from the original run in these.
RUNTIME_KEYS = {("out",), ("train", "device"), ("train", "num_workers"), ("data", "cache")}

_SECTIONS = ("data", "model", "train", "out")


def _fail(key: str, problem: str, source: Optional[PathLike]) -> ConfigError:
    return ConfigError(f"{key}: {problem}", source)


def _int(section: dict, key: str, name: str, source, minimum: int, allow_none: bool = False) -> None:
    value = section[key]
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(name, f"must be an integer, got {value!r}", source)
    if value < minimum:
        raise _fail(name, f"must be >= {minimum}, got {value}", source)


def _float(section: dict, key: str, name: str, source, minimum: float, strict: bool,
           allow_none: bool = False) -> None:
    value = section[key]
    if value is None and allow_none:
        return
    if isinstance(value, str):  # YAML reads "1e-3" (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            raise _fail(name, f"must be a number, got {value!r}", source) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(name, f"must be a finite number, got {value!r}", source)
    if value < minimum or (strict and value == minimum):
        raise _fail(name, f"must be {'>' if strict else '>='} {minimum:g}, got {value:g}", source)
    section[key] = float(value)


def _families(section: dict, key: str, source) -> None:
    value = section[key]
    if value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise _fail(f"data.{key}", f"must be a non-empty list of integers, got {value!r}", source)
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise _fail(f"data.{key}", f"must hold integers >= 0, got {item!r}", source)
    section[key] = [int(v) for v in value]


def _section(raw: Mapping, name: str, defaults: Optional[dict], source) -> dict:
    value = raw.get(name)
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise _fail(name, f"must be a mapping, got {type(value).__name__}", source)
    out = dict(value)
    if defaults is not None:
        unknown = sorted(set(out) - set(defaults) - ({"root"} if name == "data" else set()))
        if unknown:
            allowed = ", ".join(sorted(set(defaults) | ({"root"} if name == "data" else set())))
            raise _fail(f"{name}.{unknown[0]}", f"unknown key (allowed: {allowed})", source)
        for key, default in defaults.items():
            out.setdefault(key, copy.deepcopy(default))
    return out


def validate_run_config(raw: Mapping, source: Optional[PathLike] = None) -> Dict[str, Any]:
    """Check a run config and fill in defaults.

    Parameters
    ----------
    raw : mapping
        The config as read from YAML (sections ``data``, ``model``, ``train``, ``out``).
    source : path-like, optional
        The file it came from, named in error messages.

    Returns
    -------
    dict
        A new, complete config (plain JSON-serialisable types only).

    Raises
    ------
    ConfigError
        Naming the first offending key, e.g. ``train.lr: must be > 0``.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"a run config must be a mapping with sections {', '.join(_SECTIONS)}", source)
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise _fail(str(unknown[0]), f"unknown section (allowed: {', '.join(_SECTIONS)})", source)
    for name in _SECTIONS:
        if name not in raw:
            raise _fail(name, "missing section", source)

    data = _section(raw, "data", DATA_DEFAULTS, source)
    root = data.get("root")
    if not isinstance(root, (str, os.PathLike)) or not str(root):
        raise _fail("data.root", "missing: the folder of the generated dataset", source)
    data["root"] = os.fspath(root)
    for key in ("families", "train_families", "test_families"):
        _families(data, key, source)
    for key in ("val_fraction", "test_fraction"):
        _float(data, key, f"data.{key}", source, 0.0, strict=False)
        if data[key] >= 1.0:
            raise _fail(f"data.{key}", f"must be < 1, got {data[key]:g}", source)
    _float(data, "radius", "data.radius", source, 0.0, strict=True, allow_none=True)
    if not isinstance(data["cache"], bool):
        raise _fail("data.cache", f"must be true or false, got {data['cache']!r}", source)

    model = _section(raw, "model", None, source)
    if not isinstance(model.get("name"), str) or not model["name"]:
        raise _fail("model.name", "missing: the model to train (for example beno)", source)

    train = _section(raw, "train", TRAIN_DEFAULTS, source)
    _int(train, "epochs", "train.epochs", source, 1)
    _int(train, "batch_size", "train.batch_size", source, 1)
    _float(train, "lr", "train.lr", source, 0.0, strict=True)
    _float(train, "weight_decay", "train.weight_decay", source, 0.0, strict=False)
    _float(train, "min_lr", "train.min_lr", source, 0.0, strict=False)
    _float(train, "gamma", "train.gamma", source, 0.0, strict=True)
    _int(train, "step_size", "train.step_size", source, 1, allow_none=True)
    _int(train, "patience", "train.patience", source, 0, allow_none=True)
    _float(train, "min_delta", "train.min_delta", source, 0.0, strict=False)
    _float(train, "grad_clip", "train.grad_clip", source, 0.0, strict=True, allow_none=True)
    _int(train, "seed", "train.seed", source, 0)
    _int(train, "num_workers", "train.num_workers", source, 0)
    if train["scheduler"] is None:
        train["scheduler"] = "none"
    if train["scheduler"] not in SCHEDULERS:
        raise _fail("train.scheduler", f"must be one of {', '.join(SCHEDULERS)}, got {train['scheduler']!r}", source)
    if train["loss"] not in LOSSES:
        raise _fail("train.loss", f"must be one of {', '.join(LOSSES)}, got {train['loss']!r}", source)
    device = train["device"]
    if not isinstance(device, str) or not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
        raise _fail("train.device", f"must be auto, cpu, cuda or cuda:N, got {device!r}", source)

    out = raw.get("out")
    if not isinstance(out, (str, os.PathLike)) or not str(out):
        raise _fail("out", "missing: the folder for checkpoints and metrics", source)

    return {"data": data, "model": model, "train": train, "out": os.fspath(out)}


def load_run_config(config: Union[PathLike, Mapping]) -> Dict[str, Any]:
    """Read (if a path) and validate a run config.

    Parameters
    ----------
    config : path-like or mapping
        A YAML file or an already-parsed dict.

    Returns
    -------
    dict
        The complete config, see :func:`validate_run_config`.

    Raises
    ------
    ConfigError
        Missing or unreadable file, invalid YAML, or an invalid key.
    """
    if isinstance(config, Mapping):
        return validate_run_config(config)
    path = Path(config).expanduser()
    raw = read_config_file(path)
    return validate_run_config(raw, path)


def strip_runtime(config: Mapping, runtime_keys: Iterable[Tuple[str, ...]] = RUNTIME_KEYS) -> Dict[str, Any]:
    """The part of a config that determines a run's result (drops ``out``, device, workers).

    ``runtime_keys`` are the dotted key paths (as tuples) to drop.
    """
    result = copy.deepcopy(dict(config))
    for keys in runtime_keys:
        holder = result
        for key in keys[:-1]:
            holder = holder.get(key, {}) if isinstance(holder, dict) else {}
        if isinstance(holder, dict):
            holder.pop(keys[-1], None)
    return result


def config_differences(old: Mapping, new: Mapping, runtime_keys: Iterable[Tuple[str, ...]] = RUNTIME_KEYS) -> list:
    """Dotted keys whose values differ between two configs (``runtime_keys`` ignored)."""
    a, b = strip_runtime(old, runtime_keys), strip_runtime(new, runtime_keys)
    diffs = []

    def walk(x: Any, y: Any, prefix: str) -> None:
        if isinstance(x, Mapping) and isinstance(y, Mapping):
            for key in sorted(set(x) | set(y), key=str):
                walk(x.get(key), y.get(key), f"{prefix}.{key}" if prefix else str(key))
        elif x != y:
            diffs.append(prefix)

    walk(a, b, "")
    return diffs


def dump_run_config(config: Mapping, path: PathLike) -> None:
    """Write a config as YAML, atomically."""
    import yaml

    from ..utils.atomic import atomic_write

    with atomic_write(path, mode="w") as handle:
        yaml.safe_dump(dict(config), handle, sort_keys=False)


# ---------------------------------------------------------------- particle-dynamics run configs
#: Models trained on particle trajectories by :func:`graphops.train.dynamics.train_dynamics_from_config`
#: (``graphops train`` dispatches on ``model.name``).
DYNAMICS_MODEL_NAMES = ("giorom", "gns")

#: Defaults of the ``data`` section of a particle-dynamics run (``root`` has none: it is required).
DYNAMICS_DATA_DEFAULTS: Dict[str, Any] = {
    "val_fraction": 0.2,  # share of the trajectories (the last ones) kept for the validation rollout
    "train_indices": None,  # explicit trajectory indices instead of val_fraction
    "val_indices": None,
}

#: Defaults of the ``train`` section of a particle-dynamics run (see :func:`graphops.train.dynamics.train_dynamics`).
DYNAMICS_TRAIN_DEFAULTS: Dict[str, Any] = {
    "steps": 1000,
    "batch_size": 2,
    "lr": 1.0e-3,
    "lr_final": 1.0e-4,
    "noise_std": None,  # random-walk noise on the last input velocity; null = the RMS acceleration of the data
    "decoder_weight": 1.0,
    "decoder_queries": 4096,
    "radius_factor": 2.5,  # radius: auto = radius_factor x the median particle spacing
    "seed": 0,
    "checkpoint_every": 100,  # steps between checkpoints (a killed run resumes from the last one)
    "rollout_steps": None,  # validation rollout length; null = to the end of each trajectory
    "device": "cpu",  # the particle models train on the CPU (auto means cpu)
}

#: Keys of a particle-dynamics run that do not change its result.
DYNAMICS_RUNTIME_KEYS = {("out",), ("train", "device"), ("train", "checkpoint_every")}


def is_dynamics_config(raw: Any) -> bool:
    """Whether a (raw) run config trains a particle-dynamics model (``model.name`` giorom or gns)."""
    model = raw.get("model") if isinstance(raw, Mapping) else None
    return isinstance(model, Mapping) and model.get("name") in DYNAMICS_MODEL_NAMES


def read_config_file(path: PathLike) -> Any:
    """The raw content of a YAML run config, not validated.

    Raises
    ------
    ConfigError
        Missing, unreadable, invalid or empty file.
    """
    import yaml

    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError("run config file not found", path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read run config ({exc})", path) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"invalid YAML{line}", path) from None
    if raw is None:
        raise ConfigError("run config file is empty", path)
    return raw


def _indices(section: dict, key: str, source) -> None:
    value = section[key]
    if value is None:
        return
    if not isinstance(value, (list, tuple)) or not value:
        raise _fail(f"data.{key}", f"must be a non-empty list of trajectory indices, got {value!r}", source)
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise _fail(f"data.{key}", f"must hold integers >= 0, got {item!r}", source)
    if len(set(value)) != len(value):
        raise _fail(f"data.{key}", "holds a trajectory more than once", source)
    section[key] = [int(v) for v in value]


def _dynamics_model(raw: Mapping, source) -> Dict[str, Any]:
    """The ``model`` section: known keys only, values the model accepts (``radius: auto`` allowed)."""
    from ..errors import GraphopsError
    from ..models import build_model, default_config

    model = _section(raw, "model", None, source)
    allowed = [k for k in default_config(model["name"]) if k != "name"]
    unknown = sorted(set(model) - set(allowed) - {"name"})
    if unknown:
        raise _fail(f"model.{unknown[0]}", f"unknown key for model {model['name']!r} (allowed: {', '.join(allowed)})",
                    source)
    probe = {k: (1.0 if k in ("radius", "decoder_radius") and v == "auto" else v) for k, v in model.items()}
    try:
        build_model(probe)
    except GraphopsError as exc:
        raise _fail("model", exc.problem, source) from None
    return model


def validate_dynamics_config(raw: Mapping, source: Optional[PathLike] = None) -> Dict[str, Any]:
    """Check a particle-dynamics run config (``model.name`` giorom or gns) and fill in defaults.

    The config has the sections of :func:`validate_run_config`; ``train`` is optional::

        data:  {root: runs/data/jelly, val_fraction: 0.2}      # or train_indices / val_indices
        model: {name: giorom, num_samples: 256, radius: auto, decoder_radius: auto}
        train: {steps: 2000, batch_size: 2, lr: 1.0e-3, lr_final: 1.0e-4, seed: 0}
        out:   runs/giorom-jelly

    Parameters
    ----------
    raw : mapping
        The config as read from YAML.
    source : path-like, optional
        The file it came from, named in error messages.

    Returns
    -------
    dict
        A new, complete config (plain JSON-serialisable types only).

    Raises
    ------
    ConfigError
        Naming the first offending key, e.g. ``train.steps: must be an integer``.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"a run config must be a mapping with sections {', '.join(_SECTIONS)}", source)
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise _fail(str(unknown[0]), f"unknown section (allowed: {', '.join(_SECTIONS)})", source)
    for name in ("data", "model", "out"):
        if name not in raw:
            raise _fail(name, "missing section", source)
    model = raw.get("model")
    if not isinstance(model, Mapping) or model.get("name") not in DYNAMICS_MODEL_NAMES:
        raise _fail("model.name", f"must be one of {', '.join(DYNAMICS_MODEL_NAMES)} for a particle-dynamics run",
                    source)

    data = _section(raw, "data", DYNAMICS_DATA_DEFAULTS, source)
    root = data.get("root")
    if not isinstance(root, (str, os.PathLike)) or not str(root):
        raise _fail("data.root", "missing: the folder of the trajectory dataset (graphops generate "
                    "--problem mpm-trajectories)", source)
    data["root"] = os.fspath(root)
    _float(data, "val_fraction", "data.val_fraction", source, 0.0, strict=False)
    if data["val_fraction"] >= 1.0:
        raise _fail("data.val_fraction", f"must be < 1, got {data['val_fraction']:g}", source)
    for key in ("train_indices", "val_indices"):
        _indices(data, key, source)
    if data["train_indices"] and data["val_indices"]:
        both = sorted(set(data["train_indices"]) & set(data["val_indices"]))
        if both:
            raise _fail("data.val_indices", f"trajectory {both[0]} is also in data.train_indices", source)

    train = _section(raw, "train", DYNAMICS_TRAIN_DEFAULTS, source)
    for key, minimum in (("steps", 1), ("batch_size", 1), ("decoder_queries", 1), ("seed", 0),
                         ("checkpoint_every", 0)):
        _int(train, key, f"train.{key}", source, minimum)
    _int(train, "rollout_steps", "train.rollout_steps", source, 1, allow_none=True)
    for key in ("lr", "lr_final", "radius_factor"):
        _float(train, key, f"train.{key}", source, 0.0, strict=True)
    _float(train, "decoder_weight", "train.decoder_weight", source, 0.0, strict=False)
    _float(train, "noise_std", "train.noise_std", source, 0.0, strict=False, allow_none=True)
    if train["device"] not in ("cpu", "auto"):
        raise _fail("train.device", f"the particle models train on the CPU: use cpu or auto, got {train['device']!r}",
                    source)

    out = raw.get("out")
    if not isinstance(out, (str, os.PathLike)) or not str(out):
        raise _fail("out", "missing: the folder for the checkpoint and metrics", source)

    return {"data": data, "model": _dynamics_model(raw, source), "train": train, "out": os.fspath(out)}


def dynamics_config_differences(old: Mapping, new: Mapping) -> list:
    """Dotted keys whose values differ between two particle-dynamics configs (runtime keys ignored)."""
    return config_differences(old, new, RUNTIME_KEYS | DYNAMICS_RUNTIME_KEYS)
