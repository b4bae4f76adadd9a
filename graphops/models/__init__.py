"""Graph neural operators: BENO, MeshGraphNet, GNO (and NUNO, GIOROM when present).

Build any of them from a plain config dict::

    from graphops.models import build_model
    model = build_model({"name": "beno", "dim": 2})
    u = model(data)            # (N, out_channels)
    model.config               # the full config, for checkpoints

New models register with ``@register_model("name")`` from
:mod:`graphops.models.registry` and are imported below.
"""
from __future__ import annotations

import importlib
import importlib.util

from .registry import (
    available_models, build_model, default_config, model_class, model_task, register_model, saved_config,
)

# importing the model modules registers them
from .beno import BENO
from .gno import GNO
from .meshgraphnet import MeshGraphNet

# Models written in their own modules register when their module exists.
for _module in ("nuno", "giorom"):
    if importlib.util.find_spec(f"{__name__}.{_module}") is not None:
        importlib.import_module(f"{__name__}.{_module}")

__all__ = [
    "build_model",
    "register_model",
    "model_task",
    "available_models",
    "default_config",
    "model_class",
    "saved_config",
    "BENO",
    "MeshGraphNet",
    "GNO",
]
