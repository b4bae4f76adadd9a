"""Tasks: what a model learns and how it is fed, scored and applied.

Two tasks exist:

``fields`` (:class:`FieldsTask`)
    A field on a mesh or point cloud from fields and geometry on it: BENO,
    MeshGraphNet, GNO, NU-FNO, the global FNO; data from ``graphops generate``
    (PDE problems) or ``graphops import``.
``particles`` (:class:`ParticlesTask`)
    Particle dynamics: GIOROM and the dense GNS-style stepper; data from
    ``graphops generate --problem mpm-trajectories``.

Each model class declares its task (``task = "fields"``, read by
:func:`graphops.models.model_task`). :func:`decide_task` is the one place that
decides which task applies, from a checkpoint, a run config, a dataset
manifest or a problem name, and refuses a combination that does not fit (a
particle checkpoint on a mesh dataset, ``predict`` with a particle model). The
training loop (:class:`graphops.train.Trainer`) is the same for both.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional, Type, Union

from ..errors import CheckpointError, ConfigError, DataError, GraphopsError
from .base import Task
from .fields import FieldsTask
from .particles import ParticlesTask, particle_model_names

PathLike = Union[str, "os.PathLike[str]"]

#: The tasks by name.
TASKS: Dict[str, Type[Task]] = {"fields": FieldsTask, "particles": ParticlesTask}

#: Problems (dataset manifests' ``problem``) whose data is not a ``fields`` dataset.
PROBLEM_TASKS: Dict[str, str] = {"mpm-trajectories": "particles"}


def get_task(name: str) -> Type[Task]:
    """The task class named ``name``; ConfigError listing the choices otherwise."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}")
    return TASKS[name]


def task_of_problem(problem: Optional[str]) -> str:
    """The task a problem's data trains (``fields`` for every PDE problem and imported data)."""
    return PROBLEM_TASKS.get(str(problem), "fields")


def _dataset_task(dataset: Any) -> Optional[str]:
    """The task of a dataset folder from its manifest; ``None`` when it cannot be read (the task's
    own reader then says what is wrong with the folder) or when the data is in memory."""
    if not isinstance(dataset, (str, os.PathLike)):
        return None
    from ..data import read_manifest

    try:
        manifest = read_manifest(dataset)
    except GraphopsError:
        return None
    return str(manifest.get("task") or task_of_problem(manifest.get("problem")))


def _checkpoint_model(checkpoint: Any) -> str:
    if isinstance(checkpoint, Mapping):
        return str(checkpoint.get("model_name"))
    from ..train.checkpoint import load_checkpoint

    return str(load_checkpoint(checkpoint).get("model_name"))


def decide_task(
    checkpoint: Union[None, PathLike, Mapping[str, Any]] = None,
    config: Optional[Mapping[str, Any]] = None,
    dataset: Any = None,
    problem: Optional[str] = None,
    require: Optional[str] = None,
    command: str = "this command",
    path: Optional[PathLike] = None,
    source: Optional[PathLike] = None,
) -> Type[Task]:
    """Decide which task applies; the one place graphops tells meshes from particles.

    Parameters
    ----------
    checkpoint : path-like or mapping, optional
        A checkpoint file, or its loaded payload / ``load_model`` metadata (``model_name``).
    config : mapping, optional
        A (raw) run config: its ``model.name``.
    dataset : path-like, optional
        A dataset folder: its manifest's ``task``, else its ``problem``.
    problem : str, optional
        A problem name (``graphops generate --problem``).
    require : str, optional
        The task the caller works with (``predict``: ``fields``; ``rollout``: ``particles``).
    command : str
        The caller's name, for messages.
    path : path-like, optional
        The checkpoint file, named in errors when ``checkpoint`` is a mapping.
    source : path-like, optional
        The config file, named in errors.

    Returns
    -------
    type of Task
        :class:`FieldsTask` or :class:`ParticlesTask`.

    Raises
    ------
    CheckpointError
        The checkpoint's model does not fit ``require`` or the dataset.
    DataError
        A particle checkpoint given a mesh dataset.
    ConfigError
        Unknown model name, or a config whose model does not fit the dataset or ``require``.
    """
    from ..models import model_task

    decided: Optional[str] = require
    if problem is not None:
        decided = task_of_problem(problem)
    data_task = _dataset_task(dataset) if dataset is not None else None
    if config is not None:
        model = config.get("model") if isinstance(config, Mapping) else None
        name = model.get("name") if isinstance(model, Mapping) else None
        if not isinstance(name, str) or not name:
            raise ConfigError("model.name: missing: the model to train (for example beno)", source)
        try:
            have = model_task(name)
        except ConfigError as exc:
            raise ConfigError(f"model.name: {exc.problem}", source) from None
        if require is not None and have != require:
            raise ConfigError(f"model.name: {get_task(require).wrong_model_message(name)}", source)
        if data_task is not None and have != data_task:
            raise ConfigError(f"model.name: {name} is a {have} model but data.root holds a {data_task} dataset",
                              source)
        decided = have
    if checkpoint is not None:
        where = path if path is not None or isinstance(checkpoint, Mapping) else checkpoint
        name = _checkpoint_model(checkpoint)
        try:
            have = model_task(name)
        except ConfigError as exc:
            raise CheckpointError(exc.problem, where) from None
        if data_task is not None and have != data_task:
            if data_task == "particles":
                raise CheckpointError(f"checkpoint holds a {name!r} model; a trajectory dataset needs a particle "
                                      f"dynamics model ({', '.join(particle_model_names())})", where)
            raise DataError(f"{name} is a particle-dynamics model: evaluate it on a trajectory dataset "
                            "(graphops generate --problem mpm-trajectories), not on this mesh dataset", dataset)
        if require is not None and have != require:
            held = f"a {name!r} particle dynamics model" if have == "particles" else f"a {name!r} model"
            hint = ("; use graphops rollout for particle models" if require == "fields"
                    else f" ({', '.join(particle_model_names())})")
            raise CheckpointError(f"checkpoint holds {held}; {command} needs a {get_task(require).model_noun}{hint}",
                                  where)
        decided = have
    if decided is None:
        decided = data_task or "fields"
    return get_task(decided)


__all__ = ["Task", "FieldsTask", "ParticlesTask", "TASKS", "get_task", "decide_task", "task_of_problem",
           "particle_model_names"]
