"""Datasets on disk: problem registry, generation (sharded, resumable), lazy PyG dataset.

``generate_dataset(problem, n, out, ...)`` writes ``out/manifest.json`` and
``out/shards/shard-*.npz``; :class:`MeshDataset` reads them back lazily as
``torch_geometric`` graphs; :func:`split_by_family` splits by geometry family
(e.g. train on 4 cut-outs, test on 0..3).

The dataset classes import torch lazily, so generation workers stay light.
"""
from __future__ import annotations

from typing import Any

from .generate import generate_dataset, read_manifest, sample_seed
from .problems import PROBLEMS, Problem, get_problem, parse_families, problem_names

__all__ = [
    "generate_dataset",
    "read_manifest",
    "sample_seed",
    "get_problem",
    "problem_names",
    "parse_families",
    "Problem",
    "PROBLEMS",
    "MeshDataset",
    "split_by_family",
    "sample_graph",
]


def __getattr__(name: str) -> Any:
    if name in ("MeshDataset", "split_by_family", "sample_graph"):
        from . import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
