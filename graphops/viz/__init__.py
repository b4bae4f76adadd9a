"""PNG plots (matplotlib, Agg canvas: no display needed).

Nothing is imported eagerly (matplotlib is slow to import); the functions
below load their module on first access:

- :func:`plot_decomposition` (:mod:`graphops.viz.decomposition`): points coloured
  by subdomain with the subdomain boxes;
- :func:`plot_fields` (:mod:`graphops.viz.fields`): node fields on a mesh.
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "plot_decomposition": "decomposition",
    "draw_boxes": "decomposition",
    "subdomain_colors": "decomposition",
    "plot_fields": "fields",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
