"""A unit cell with one *small* circular hole and a mesh graded strongly towards it.

The regime NUNO (Liu et al. 2023) was designed for: the stress concentrates in a
ring of width about the hole's radius around the hole, far below the spacing a
uniform grid over the cell can afford, and the mesh is refined there by a factor
``grading`` (element size ``mesh_size / grading`` on the hole, growing linearly
to ``mesh_size`` at distance :data:`GRADING_DISTANCE`), so most nodes of the
point cloud lie in a small region.

Geometry of seed ``s``: hole radius ``r = hole_size * U(3, 6)`` with
``hole_size = mesh_size / grading`` (so every hole is resolved by 19-38 boundary
elements whatever the grading); centre ``(0.5, 0.5) + U(-jitter, jitter)^2``
(a hole whose position varies little, like a bolt hole or a notch of a part).
"""
from __future__ import annotations

import numpy as np

from ..mesh import Mesh
from ._build import check_mesh_size, closed_curve_points
from .unit_cell import graded_cell_with_void

GRADING_DISTANCE = 0.2
HOLE_SAMPLES = 32


def small_hole(seed: int, hole_size: float, jitter: float = 0.02) -> tuple:
    """Centre ``(2,)`` and radius (float) of the hole of ``seed`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    centre = 0.5 + rng.uniform(-jitter, jitter, size=2)
    return centre, float(hole_size * rng.uniform(3.0, 6.0))


def unit_cell_with_small_hole(seed: int, mesh_size: float = 0.05, grading: float = 30.0,
                              jitter: float = 0.02, refinements: int = 0) -> Mesh:
    """Graded triangle mesh of the unit cell with one small circular hole.

    Parameters
    ----------
    seed : int
    mesh_size : float
        Element size far from the hole.
    grading : float
        Ratio of the far element size to the size on the hole (>= 1).
    jitter : float
        The hole's centre is drawn from ``(0.5, 0.5) + U(-jitter, jitter)^2`` (0 <= jitter <= 0.3).
    refinements : int

    Returns
    -------
    Mesh
        Physical groups ``"domain"``, ``"bottom"``, ``"right"``, ``"top"``,
        ``"left"`` and ``"void"`` (the hole).
    """
    from ..errors import ConfigError

    h = check_mesh_size(mesh_size)
    grading = float(grading)
    if not np.isfinite(grading) or grading < 1.0 or h / grading < 1e-5:
        raise ConfigError(f"grading must be >= 1 with mesh_size / grading >= 1e-5, got {grading!r}")
    if not 0.0 <= float(jitter) <= 0.3:
        raise ConfigError(f"jitter must be in [0, 0.3], got {jitter!r}")
    h_hole = h / grading
    centre, radius = small_hole(seed, h_hole, float(jitter))
    hole = closed_curve_points(centre, np.full(HOLE_SAMPLES, radius))
    return graded_cell_with_void(hole, h, h_hole, GRADING_DISTANCE, refinements,
                                 source=f"unit_cell_with_small_hole(seed={seed}, grading={grading:g})")
