"""The run configuration of ``graphops train``: one typed schema for every task.

A run config has four sections::

    data:  {root: runs/data/poisson-dirichlet, train_families: [4],
            test_families: [0, 1, 2, 3, 4], val_fraction: 0.1}
    model: {name: beno, hidden: 64, layers: 4}
    train: {epochs: 30, batch_size: 8, lr: 1.0e-3, weight_decay: 1.0e-4,
            scheduler: cosine, patience: 10, seed: 0, device: auto, loss: rel_l2}
    out:   runs/beno

The task (:mod:`graphops.tasks`) follows from ``model.name``: ``fields`` models
(beno, meshgraphnet, gno, nuno, fno_global) count ``train.epochs``, the
``particles`` models (giorom, gns) count ``train.steps``. :data:`SCHEMA` states
every key of ``data`` and ``train`` once, with its type, its default (per task
where the tasks differ) and the tasks it belongs to; the keys of one task only
form that task's section of the table. The ``model`` section is checked against
the model's constructor (:func:`graphops.models.default_config`).

:func:`load_run_config` fills in defaults and checks every key; a problem
raises :class:`~graphops.errors.ConfigError` naming the key (``train.lr``) and
the file. :func:`apply_overrides` applies command-line ``section.key=value``
overrides, typed by the schema.
"""
from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import ConfigError

PathLike = Union[str, "os.PathLike[str]"]

#: The tasks a run can have (see :mod:`graphops.tasks`).
TASK_NAMES = ("fields", "particles")
FIELDS, PARTICLES = ("fields",), ("particles",)

SCHEDULERS = ("cosine", "step", "onecycle", "exponential", "none")
OPTIMIZERS = ("adamw", "adam", "sgd")
LOSSES = ("rel_l2", "mse")

_SECTIONS = ("data", "model", "train", "out")
_REQUIRED = object()


@dataclass(frozen=True)
class Key:
    """One key of the schema: its type, default and checks, stated once.

    ``kind`` is one of ``int``, ``float``, ``bool``, ``choice``, ``path``,
    ``device``, ``families`` (a list of family numbers) and ``indices`` (a list
    of distinct trajectory indices). ``defaults`` overrides ``default`` per task.
    """

    section: str
    name: str
    kind: str
    default: Any = None
    doc: str = ""
    tasks: Tuple[str, ...] = TASK_NAMES
    defaults: Mapping[str, Any] = field(default_factory=dict)
    minimum: Optional[float] = None
    strict: bool = False  # the value must be > minimum (>= otherwise)
    below: Optional[float] = None  # the value must be < below
    nullable: bool = False
    choices: Tuple[str, ...] = ()
    runtime: bool = False  # changes how a run executes, not its result: a resumed run may differ here

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"

    def default_for(self, task: str) -> Any:
        return copy.deepcopy(self.defaults.get(task, self.default))

    def check(self, value: Any, source: Optional[PathLike]) -> Any:
        """The value, type-checked and normalised; ConfigError naming the key otherwise."""
        if value is None and (self.nullable or (self.kind == "choice" and "none" in self.choices)):
            return "none" if self.kind == "choice" else None
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise _fail(self.dotted, f"must be an integer, got {value!r}", source)
            if self.minimum is not None and value < self.minimum:
                raise _fail(self.dotted, f"must be >= {self.minimum:g}, got {value}", source)
            return int(value)
        if self.kind == "float":
            if isinstance(value, str):  # YAML reads "1e-3" (no dot) as a string
                try:
                    value = float(value)
                except ValueError:
                    raise _fail(self.dotted, f"must be a number, got {value!r}", source) from None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise _fail(self.dotted, f"must be a finite number, got {value!r}", source)
            low = self.minimum
            if low is not None and (value < low or (self.strict and value == low)):
                raise _fail(self.dotted, f"must be {'>' if self.strict else '>='} {low:g}, got {value:g}", source)
            if self.below is not None and value >= self.below:
                raise _fail(self.dotted, f"must be < {self.below:g}, got {value:g}", source)
            return float(value)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise _fail(self.dotted, f"must be true or false, got {value!r}", source)
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise _fail(self.dotted, f"must be one of {', '.join(self.choices)}, got {value!r}", source)
            return value
        if self.kind == "path":
            if not isinstance(value, (str, os.PathLike)) or not str(value):
                raise _fail(self.dotted, f"missing: {self.doc}", source)
            return os.fspath(value)
        if self.kind == "device":
            if not isinstance(value, str) or not (value in ("auto", "cpu", "cuda") or value.startswith("cuda:")):
                raise _fail(self.dotted, f"must be auto, cpu, cuda or cuda:N, got {value!r}", source)
            return value
        if self.kind == "families":
            from ..data.problems import parse_families

            try:
                return parse_families(value, self.dotted, 0, None)
            except ConfigError as exc:
                raise ConfigError(exc.problem, source) from None
        if self.kind == "indices":
            if not isinstance(value, (list, tuple)) or not value:
                raise _fail(self.dotted, f"must be a non-empty list of trajectory indices, got {value!r}", source)
            for item in value:
                if isinstance(item, bool) or not isinstance(item, int) or item < 0:
                    raise _fail(self.dotted, f"must hold integers >= 0, got {item!r}", source)
            if len(set(value)) != len(value):
                raise _fail(self.dotted, "holds a trajectory more than once", source)
            return [int(v) for v in value]
        raise AssertionError(f"unknown key kind {self.kind!r}")  # pragma: no cover

    def parse_text(self, text: str) -> Any:
        """A command-line override's text as a value of this key's type (checked later by :meth:`check`)."""
        if text.strip().lower() in ("null", "none", "~"):
            return None
        if self.kind == "int":
            try:
                return int(text)
            except ValueError:
                return text
        if self.kind == "float":
            return text  # check() turns "1e-3" into a float and names the key when it is not a number
        if self.kind == "bool":
            return {"true": True, "false": False}.get(text.strip().lower(), text)
        if self.kind in ("families", "indices"):
            import yaml

            value = yaml.safe_load(text) if text.strip().startswith("[") else [
                int(p) if p.strip().isdigit() else p.strip() for p in text.split(",")]
            return value
        return text


#: Every key of the ``data`` and ``train`` sections (``model`` is the model's own, ``out`` a folder).
SCHEMA: Tuple[Key, ...] = (
    # ---- data
    Key("data", "root", "path", _REQUIRED, "the folder of the dataset (graphops generate / import)"),
    Key("data", "val_fraction", "float", 0.1, "share of the training samples (trajectories: the last ones) "
        "kept for validation", defaults={"particles": 0.2}, minimum=0.0, below=1.0),
    Key("data", "families", "families", None, "only these families of the dataset", tasks=FIELDS, nullable=True),
    Key("data", "train_families", "families", None, "families to train on (default all)", tasks=FIELDS, nullable=True),
    Key("data", "test_families", "families", None, "families to test on", tasks=FIELDS, nullable=True),
    Key("data", "test_fraction", "float", 0.1, "share of a family in both train_families and test_families "
        "held out for testing", tasks=FIELDS, minimum=0.0, below=1.0),
    Key("data", "cache", "bool", True, "build every graph once and keep it in memory", tasks=FIELDS, runtime=True),
    Key("data", "radius", "float", None, "also connect nodes closer than this", tasks=FIELDS, minimum=0.0,
        strict=True, nullable=True),
    Key("data", "train_indices", "indices", None, "explicit training trajectories", tasks=PARTICLES, nullable=True),
    Key("data", "val_indices", "indices", None, "explicit validation trajectories", tasks=PARTICLES, nullable=True),
    # ---- train: the loop
    Key("train", "epochs", "int", 30, "passes over the training set", tasks=FIELDS, minimum=1),
    Key("train", "steps", "int", 1000, "optimiser steps", tasks=PARTICLES, minimum=1),
    Key("train", "batch_size", "int", 8, "samples (particles: trajectory windows) per step",
        defaults={"particles": 2}, minimum=1),
    Key("train", "optimizer", "choice", "adamw", "adamw, adam or sgd", defaults={"particles": "adam"},
        choices=OPTIMIZERS),
    Key("train", "lr", "float", 1.0e-3, "learning rate", minimum=0.0, strict=True),
    Key("train", "weight_decay", "float", 1.0e-4, "weight decay", defaults={"particles": 0.0}, minimum=0.0),
    Key("train", "scheduler", "choice", "cosine", "learning-rate schedule over the run",
        defaults={"particles": "exponential"}, choices=SCHEDULERS),
    Key("train", "step_size", "int", None, "step scheduler: epochs (steps) between decays (default a third "
        "of the run)", minimum=1, nullable=True),
    Key("train", "gamma", "float", 0.5, "step scheduler: decay factor", minimum=0.0, strict=True),
    Key("train", "min_lr", "float", 0.0, "cosine scheduler: final learning rate", minimum=0.0),
    Key("train", "lr_final", "float", None, "exponential scheduler: learning rate at the last step",
        defaults={"particles": 1.0e-4}, minimum=0.0, strict=True, nullable=True),
    Key("train", "patience", "int", 10, "validations without improvement before stopping; null = never",
        defaults={"particles": None}, minimum=0, nullable=True),
    Key("train", "min_delta", "float", 0.0, "an improvement must beat the best by more than this", minimum=0.0),
    Key("train", "grad_clip", "float", None, "max gradient norm; null = no clipping",
        defaults={"particles": 10.0}, minimum=0.0, strict=True, nullable=True),
    Key("train", "max_seconds", "float", None, "stop (resumably) once the loop has run this many seconds in "
        "total, counted over resumes; null = no limit (runs of equal training time)", minimum=0.0, strict=True,
        nullable=True, runtime=True),
    Key("train", "seed", "int", 0, "seed of every random draw", minimum=0),
    Key("train", "device", "device", "auto", "auto, cpu, cuda or cuda:N", defaults={"particles": "cpu"},
        runtime=True),
    Key("train", "num_workers", "int", 0, "data-loader worker processes", tasks=FIELDS, minimum=0, runtime=True),
    Key("train", "checkpoint_every", "int", 100, "steps between checkpoints and validations (0: only at the end)",
        tasks=PARTICLES, minimum=0, runtime=True),
    # ---- train: the fields task
    Key("train", "loss", "choice", "rel_l2", "rel_l2 or mse", tasks=FIELDS, choices=LOSSES),
    # ---- train: the particles task
    Key("train", "noise_std", "float", None, "random-walk noise on the input velocities; null = the data's RMS "
        "acceleration", tasks=PARTICLES, minimum=0.0, nullable=True),
    Key("train", "decoder_weight", "float", 1.0, "weight of GIOROM's decoder loss", tasks=PARTICLES, minimum=0.0),
    Key("train", "decoder_queries", "int", 4096, "dense particles per trajectory in the decoder loss",
        tasks=PARTICLES, minimum=1),
    Key("train", "radius_factor", "float", 2.5, "radius: auto = this x the median particle spacing",
        tasks=PARTICLES, minimum=0.0, strict=True),
    Key("train", "rollout_steps", "int", None, "validation rollout length; null = to the end of each trajectory",
        tasks=PARTICLES, minimum=1, nullable=True),
)


def schema_keys(section: str, task: str) -> Dict[str, Key]:
    """The keys of one section for one task, by name, in schema order."""
    return {k.name: k for k in SCHEMA if k.section == section and task in k.tasks}


def defaults(section: str, task: str) -> Dict[str, Any]:
    """Default values of one section for one task (``data.root`` has none)."""
    return {name: key.default_for(task) for name, key in schema_keys(section, task).items()
            if key.default is not _REQUIRED}


def runtime_keys(task: str = "fields") -> set:
    """Dotted key paths (as tuples) that change how a run executes, not its result."""
    return {("out",)} | {(k.section, k.name) for k in SCHEMA if k.runtime and task in k.tasks}


#: Runtime keys of a fields run (kept for callers of :func:`config_differences`).
RUNTIME_KEYS = runtime_keys("fields")


def _fail(key: str, problem: str, source: Optional[PathLike]) -> ConfigError:
    return ConfigError(f"{key}: {problem}", source)


def _mapping(raw: Mapping, name: str, source) -> dict:
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(name, f"must be a mapping, got {type(value).__name__}", source)
    return dict(value)


def task_of_config(raw: Any, source: Optional[PathLike] = None) -> str:
    """The task of a (raw) run config: the one its ``model.name`` declares.

    Delegates to :func:`graphops.tasks.decide_task`, the one place the task is decided.
    """
    from ..tasks import decide_task

    return decide_task(config=raw, source=source).name


def validate_run_config(raw: Mapping, source: Optional[PathLike] = None,
                        task: Optional[str] = None) -> Dict[str, Any]:
    """Check a run config against :data:`SCHEMA` and fill in defaults.

    Parameters
    ----------
    raw : mapping
        The config as read from YAML (sections ``data``, ``model``, ``train``, ``out``).
    source : path-like, optional
        The file it came from, named in error messages.
    task : str, optional
        Require this task (``fields`` or ``particles``); default the one ``model.name`` declares.

    Returns
    -------
    dict
        A new, complete config (plain JSON-serialisable types only).

    Raises
    ------
    ConfigError
        Naming the first offending key, e.g. ``train.lr: must be > 0``.
    """
    from ..tasks import get_task

    if not isinstance(raw, Mapping):
        raise ConfigError(f"a run config must be a mapping with sections {', '.join(_SECTIONS)}", source)
    unknown = sorted(set(raw) - set(_SECTIONS), key=str)
    if unknown:
        raise _fail(str(unknown[0]), f"unknown section (allowed: {', '.join(_SECTIONS)})", source)
    for name in ("data", "model", "out"):
        if name not in raw:
            raise _fail(name, "missing section", source)
    model = _mapping(raw, "model", source)
    if not isinstance(model.get("name"), str) or not model["name"]:
        raise _fail("model.name", "missing: the model to train (for example beno)", source)
    declared = task_of_config(raw, source)
    if task is not None and declared != task:
        raise _fail("model.name", get_task(task).wrong_model_message(model["name"]), source)
    task = declared

    config: Dict[str, Any] = {}
    for section in ("data", "train"):
        values = _mapping(raw, section, source)
        keys = schema_keys(section, task)
        unknown = sorted(set(values) - set(keys), key=str)
        if unknown:
            raise _fail(f"{section}.{unknown[0]}", f"unknown key (allowed: {', '.join(keys)})", source)
        checked = {}
        for name, key in keys.items():
            if name not in values:
                if key.default is _REQUIRED:
                    raise _fail(key.dotted, f"missing: {key.doc}", source)
                checked[name] = key.default_for(task)
            else:
                checked[name] = key.check(values[name], source)
        config[section] = checked
    if config["train"]["scheduler"] == "exponential" and config["train"]["lr_final"] is None:
        raise _fail("train.lr_final", "the exponential scheduler needs the final learning rate", source)
    out = raw.get("out")
    if not isinstance(out, (str, os.PathLike)) or not str(out):
        raise _fail("out", "missing: the folder for checkpoints and metrics", source)
    result = {"data": config["data"], "model": model, "train": config["train"], "out": os.fspath(out)}
    get_task(task).check_config(result, source)
    return result


def load_run_config(config: Union[PathLike, Mapping], overrides: Sequence[str] = ()) -> Dict[str, Any]:
    """Read (if a path), override and validate a run config.

    Parameters
    ----------
    config : path-like or mapping
        A YAML file or an already-parsed dict.
    overrides : sequence of str
        ``section.key=value`` strings (see :func:`apply_overrides`).

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
        raw, source = config, None
    else:
        source = Path(config).expanduser()
        raw = read_config_file(source)
    if overrides:
        raw = apply_overrides(raw, overrides, source)
    return validate_run_config(raw, source)


def apply_overrides(raw: Mapping, overrides: Sequence[str], source: Optional[PathLike] = None) -> Dict[str, Any]:
    """A copy of a raw config with ``section.key=value`` overrides applied.

    The value is typed by the schema (``train.lr=1e-3`` a float, ``train.patience=null``
    none, ``data.train_families=0,1`` a list) or, in the ``model`` section, by the
    type of the model's default for that key; ``out=DIR`` sets the out folder.

    Raises
    ------
    ConfigError
        An override without ``=``, or an unknown key (naming it and the known ones).
    """
    from ..models import default_config

    if not isinstance(raw, Mapping):
        raise ConfigError("a run config must be a mapping", source)
    result = copy.deepcopy(dict(raw))
    for text in overrides:
        dotted, sep, value = str(text).partition("=")
        dotted = dotted.strip()
        if not sep or not dotted:
            raise ConfigError(f"override {text!r}: expected section.key=value, e.g. train.lr=1e-3", source)
        if dotted == "out":
            result["out"] = value
            continue
        section, _, name = dotted.partition(".")
        if section in ("data", "train"):
            task = task_of_config(result, source)  # after any model.name override before this one
            keys = schema_keys(section, task)
            if name not in keys:
                raise ConfigError(f"override {dotted}: unknown key for a {task} run (known {section} keys: "
                                  f"{', '.join(keys)})", source)
            parsed = keys[name].parse_text(value)
        elif section == "model":
            model_name = (result.get("model") or {}).get("name")
            known = {k: v for k, v in default_config(model_name).items()} if name != "name" else {"name": ""}
            if name not in known:
                raise ConfigError(f"override {dotted}: unknown key for model {model_name!r} (known: "
                                  f"{', '.join(k for k in known if k != 'name')})", source)
            parsed = _typed_like(known[name], value, dotted, source)
        else:
            raise ConfigError(f"override {dotted}: unknown section {section!r} (known: data, model, train, out)",
                              source)
        holder = result.get(section)
        result[section] = dict(holder) if isinstance(holder, Mapping) else {}
        result[section][name] = parsed
    return result


def _typed_like(default: Any, text: str, key: str, source: Optional[PathLike]) -> Any:
    """``text`` as a value of the type of ``default`` (YAML when the default gives no type)."""
    import yaml

    if text.strip().lower() in ("null", "none", "~"):
        return None
    kinds = ((bool, "true or false", lambda t: {"true": True, "false": False}[t.strip().lower()]),
             (int, "an integer", int), (float, "a number", float), (str, "text", str))
    for kind, what, parse in kinds:
        if isinstance(default, kind):
            try:
                return parse(text)
            except (KeyError, ValueError):
                raise _fail(key, f"must be {what} like its default {default!r}, got {text!r}", source) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def strip_runtime(config: Mapping, keys: Iterable[Tuple[str, ...]] = RUNTIME_KEYS) -> Dict[str, Any]:
    """The part of a config that determines a run's result (drops ``out``, device, workers).

    ``keys`` are the dotted key paths (as tuples) to drop.
    """
    result = copy.deepcopy(dict(config))
    for path in keys:
        holder = result
        for key in path[:-1]:
            holder = holder.get(key, {}) if isinstance(holder, dict) else {}
        if isinstance(holder, dict):
            holder.pop(path[-1], None)
    return result


def config_differences(old: Mapping, new: Mapping, keys: Iterable[Tuple[str, ...]] = RUNTIME_KEYS) -> List[str]:
    """Dotted keys whose values differ between two configs (the runtime ``keys`` ignored)."""
    keys = list(keys)
    a, b = strip_runtime(old, keys), strip_runtime(new, keys)
    diffs: List[str] = []

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


def read_config_file(path: PathLike) -> Any:
    """The raw content of a YAML run config, not validated.

    Raises
    ------
    ConfigError
        Missing, unreadable, invalid or empty file.
    """
    from ..utils.yaml_file import read_yaml_file

    return read_yaml_file(path, "run config")


# ---------------------------------------------------------------- kept names of the particle-dynamics configs
def validate_dynamics_config(raw: Mapping, source: Optional[PathLike] = None) -> Dict[str, Any]:
    """:func:`validate_run_config` of a ``particles`` run (``model.name`` giorom or gns).

    Raises
    ------
    ConfigError
        Another model, or an invalid key.
    """
    return validate_run_config(raw, source, task="particles")
