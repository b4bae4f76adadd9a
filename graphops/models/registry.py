"""Registry of model classes by name, and building a model from a config dict.

A model class registers itself with ``@register_model("name")``. Its
constructor takes keyword arguments only (each with a default) holding plain
JSON values; the registry records them, with the defaults filled in, as
``model.config`` so that a checkpoint can rebuild the very same model with
:func:`build_model`.

Each model class also declares the task it learns as a class attribute,
``task = "fields"`` (a field on a mesh or point cloud) or ``task = "particles"``
(particle dynamics); :func:`model_task` reads it and
:func:`graphops.tasks.decide_task` uses it. A class that declares nothing is a
``fields`` model.
"""
from __future__ import annotations

import functools
import inspect
import json
from typing import Any, Callable, Dict, List, Mapping, Type, TypeVar

import torch

from ..errors import ConfigError

_REGISTRY: Dict[str, Type[torch.nn.Module]] = {}

#: The task of a model class that declares none (see :func:`model_task`).
DEFAULT_TASK = "fields"

M = TypeVar("M", bound=Type[torch.nn.Module])


def _parameters(cls: Type[torch.nn.Module]) -> Dict[str, inspect.Parameter]:
    params = dict(inspect.signature(cls.__init__).parameters)
    params.pop("self", None)
    return params


def register_model(name: str) -> Callable[[M], M]:
    """Class decorator adding a model to the registry under ``name``.

    The decorated ``__init__`` stores ``self.config``: ``{"name": name, **kwargs}``
    with every default filled in.

    Parameters
    ----------
    name : str
        The value of ``config["name"]`` that selects this class.

    Raises
    ------
    ValueError
        When the name is taken or the constructor takes ``*args`` / ``**kwargs``
        or parameters without defaults (a programming error, not a user one).
    """

    def decorate(cls: M) -> M:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered to {_REGISTRY[name].__name__}")
        params = _parameters(cls)
        for p in params.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is p.empty:
                raise ValueError(f"{cls.__name__}.__init__: every argument needs a default and a name ({p.name})")
        signature = inspect.signature(cls.__init__)
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            init(self, *args, **kwargs)
            config = {"name": name}
            config.update((k, v) for k, v in bound.arguments.items() if k != "self")
            self.config = config

        cls.__init__ = __init__  # type: ignore[method-assign]
        cls.model_name = name  # type: ignore[attr-defined]
        if not isinstance(getattr(cls, "task", DEFAULT_TASK), str):
            raise ValueError(f"{cls.__name__}.task must be a task name such as {DEFAULT_TASK!r}")
        _REGISTRY[name] = cls
        return cls

    return decorate


def available_models() -> List[str]:
    """Names accepted by :func:`build_model`, sorted."""
    return sorted(_REGISTRY)


def model_class(name: str) -> Type[torch.nn.Module]:
    """The class registered under ``name``; ConfigError listing the choices otherwise."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(available_models())}")
    return _REGISTRY[name]


def model_task(name: str) -> str:
    """The task model ``name`` learns: its class attribute ``task`` (``"fields"`` when undeclared).

    Raises
    ------
    ConfigError
        Unknown model name (the choices are listed).
    """
    return str(getattr(model_class(name), "task", DEFAULT_TASK))


def default_config(name: str) -> Dict[str, Any]:
    """The full config of model ``name`` with every default filled in."""
    cls = model_class(name)
    out: Dict[str, Any] = {"name": name}
    out.update((k, p.default) for k, p in _parameters(cls).items())
    return out


def saved_config(config: Mapping[str, Any]) -> Dict[str, Any]:
    """A model config saved by an older graphops, completed for this version.

    A model class lists the constructor arguments it gained after checkpoints
    existed in its class attribute ``config_added`` (argument -> the value that
    rebuilds a model saved without it); those missing from ``config`` are filled
    in, so an old checkpoint rebuilds the model it was trained as rather than
    today's defaults.

    Parameters
    ----------
    config : mapping
        ``model_config`` of a checkpoint (``config["name"]`` names the model).

    Returns
    -------
    dict
        A copy; unchanged for an unknown model name (:func:`build_model` reports it).
    """
    out = dict(config)
    cls = _REGISTRY.get(out.get("name"))  # type: ignore[arg-type]
    for key, value in (getattr(cls, "config_added", None) or {}).items():
        out.setdefault(key, value)
    return out


def build_model(config: Dict[str, Any]) -> torch.nn.Module:
    """Build a model from a plain config dict.

    Parameters
    ----------
    config : dict
        ``config["name"]`` picks the class (see :func:`available_models`); the
        other keys are constructor arguments, all optional.

    Returns
    -------
    torch.nn.Module
        The model, with ``model.config`` the full config (defaults filled in).

    Raises
    ------
    ConfigError
        Missing or unknown name, unknown keys (the valid ones are listed), a
        value that is not plain JSON, or a value the model rejects.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"a model config must be a dict, got {type(config).__name__}")
    if "name" not in config:
        raise ConfigError(f"the model config has no 'name'; choose one of: {', '.join(available_models())}")
    cls = model_class(config["name"])
    kwargs = {k: v for k, v in config.items() if k != "name"}
    valid = _parameters(cls)
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(map(repr, unknown))} for model {config['name']!r}; "
            f"valid keys: {', '.join(valid)}"
        )
    try:
        json.dumps(kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model config for {config['name']!r} must hold plain JSON values ({exc})") from None
    return cls(**kwargs)
