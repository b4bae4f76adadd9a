"""Shared pieces of the hardening tests: fault counters, a hang guard, hypothesis settings, graph checks.

Importable by name (like ``train_helpers``) so that ``conftest.py`` and the
test modules share the same :data:`STATS` counter.
"""
from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
from collections import Counter
from typing import Iterator

import numpy as np
from hypothesis import HealthCheck, settings

from graphops.errors import GraphopsError

#: What the hardening tests tried, summed over the session and printed at the end of the run.
STATS: Counter = Counter()

#: ``GRAPHOPS_FUZZ_SCALE=10 pytest tests/hardening`` runs ten times more examples, with fresh random
#: ones each run (a deeper search); the default (1) keeps the suite fast and deterministic.
SCALE = float(os.environ.get("GRAPHOPS_FUZZ_SCALE", "1"))


def examples(n: int) -> int:
    """``n`` examples scaled by :data:`SCALE`."""
    return max(1, int(round(n * SCALE)))


#: Modest, reproducible hypothesis settings: the same examples on every run (no flaky CI), no
#: example database written into the repository, no wall-clock deadline on a busy machine
#: (hangs are caught by :func:`no_hang` instead).
FUZZ = settings(
    max_examples=examples(40),
    deadline=None,
    derandomize=SCALE == 1,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)


class Hang(BaseException):
    """Raised by :func:`no_hang`; a BaseException so that no ``except Exception`` in the library swallows it."""


@contextlib.contextmanager
def no_hang(seconds: float, what: str) -> Iterator[None]:
    """Fail with :class:`Hang` when the body runs longer than ``seconds``.

    A SIGALRM timer interrupts Python code; a backstop (faulthandler) dumps the
    stacks and ends the process when a C extension never returns to Python.
    """
    def _alarm(signum, frame):  # pragma: no cover - only on a hang
        raise Hang(f"{what} did not finish within {seconds:g} s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(seconds * 6 + 30, exit=True, file=sys.stderr)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        faulthandler.cancel_dump_traceback_later()


def assert_clean_error(exc: GraphopsError, name: str = None) -> None:
    """A graphops error is one line and, when a file is involved, names it."""
    text = str(exc)
    assert text and "\n" not in text, f"error message is not one line: {text!r}"
    if name is not None:
        assert name in text, f"error does not name the file {name!r}: {text!r}"


def check_edge_index(edge_index, num_nodes: int, loop: bool = False) -> np.ndarray:
    """``(2, E)`` int64 indices in range, no self loops unless allowed; returns it as numpy."""
    import torch

    assert isinstance(edge_index, torch.Tensor) and edge_index.dtype == torch.int64
    e = edge_index.numpy()
    assert e.ndim == 2 and e.shape[0] == 2
    if e.size:
        assert e.min() >= 0 and e.max() < num_nodes
    if not loop:
        assert not np.any(e[0] == e[1]), "self loop"
    return e


def check_graph(data, num_nodes: int, dim: int, boundary: bool = True) -> None:
    """A graph from :func:`graphops.graph.mesh_to_graph` or ``point_cloud_to_graph`` is well formed and finite."""
    import torch

    e = check_edge_index(data.edge_index, num_nodes)
    assert data.num_nodes == num_nodes
    assert tuple(data.pos.shape) == (num_nodes, dim) and data.pos.dtype == torch.float32
    assert tuple(data.edge_attr.shape) == (e.shape[1], dim + 1)
    for name in ("pos", "x", "edge_attr", "boundary_normal", "boundary_distance", "boundary_direction"):
        value = getattr(data, name, None)
        if value is not None:
            assert torch.isfinite(value).all(), f"{name} has NaN/inf"
    if boundary:
        pairs = set(map(tuple, e.T.tolist()))
        assert all((b, a) in pairs for a, b in pairs), "mesh edges are not symmetric"
        assert data.boundary_mask.dtype == torch.bool and tuple(data.boundary_mask.shape) == (num_nodes,)
        norms = data.boundary_normal.norm(dim=1)
        assert torch.all((norms < 1e-6) | ((norms - 1).abs() < 1e-4)), "normals are neither unit nor zero"
        assert torch.all(data.boundary_distance >= 0)
        assert tuple(data.x.shape) == (num_nodes, dim + 2)
