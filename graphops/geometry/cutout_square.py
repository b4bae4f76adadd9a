"""The BENO benchmark domain: the unit square with rectangular cut-outs at random corners.

Protocol (as used for the BENO Poisson experiments): the unit square
``[0, 1]^2`` loses ``k`` (0..4) axis-aligned rectangles, one at each of ``k``
distinct corners chosen uniformly at random. Each rectangle's width and height
are drawn independently and uniformly from ``size_range`` (default 0.1..0.4), so
two cut-outs on one side never overlap (0.4 + 0.4 < 1) and the domain stays
connected. ``k`` is the geometry family: train on ``k = 4``, test on ``0..3``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from ..errors import ConfigError
from ..mesh import Mesh
from ._build import add_physical_groups, build_mesh, check_count, check_mesh_size

#: Corners of the unit square in counter-clockwise order.
CORNERS = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
DEFAULT_SIZE_RANGE = (0.1, 0.4)


@dataclass(frozen=True)
class Cutout:
    """One rectangular cut-out: ``corner`` index (0 = (0,0), then counter-clockwise), ``width`` along x, ``height`` along y."""

    corner: int
    width: float
    height: float


def sample_cutouts(
    seed: int, num_cutouts: Optional[int] = None, size_range: Tuple[float, float] = DEFAULT_SIZE_RANGE
) -> List[Cutout]:
    """Draw the cut-outs of one domain (no meshing).

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``.
    num_cutouts : int, optional
        ``k`` in 0..4; drawn uniformly from 0..4 when None.
    size_range : (float, float)
        Range of each rectangle side, within ``(0, 0.5)``.

    Returns
    -------
    list of Cutout
        Sorted by corner.
    """
    lo, hi = (float(v) for v in size_range)
    if not 0.0 < lo <= hi < 0.5:
        raise ConfigError(f"cut-out size_range must satisfy 0 < low <= high < 0.5, got {tuple(size_range)}")
    rng = np.random.default_rng(seed)
    k = int(rng.integers(0, 5)) if num_cutouts is None else check_count(num_cutouts, "num_cutouts", 0, 4)
    corners = np.sort(rng.choice(4, size=k, replace=False))
    sizes = rng.uniform(lo, hi, size=(k, 2))
    return [Cutout(int(c), float(w), float(h)) for c, (w, h) in zip(corners, sizes)]


def cutout_polygon(cutouts: List[Cutout]) -> Tuple[np.ndarray, np.ndarray]:
    """Boundary polygon of the square minus the cut-outs.

    Returns
    -------
    points : ndarray, shape (K, 2)
        Vertices in counter-clockwise order.
    is_cutout : ndarray, shape (K,), bool
        Whether the edge from vertex ``i`` to ``i + 1`` is a cut-out side.
    """
    by_corner = {c.corner: c for c in cutouts}
    points, labels = [], []
    for i, (cx, cy) in enumerate(CORNERS):
        sx, sy = (1.0 if cx == 0.0 else -1.0), (1.0 if cy == 0.0 else -1.0)
        if i not in by_corner:
            points.append((cx, cy))
            labels.append(False)
            continue
        c = by_corner[i]
        on_x_side = (cx + sx * c.width, cy)  # on the horizontal side through the corner
        on_y_side = (cx, cy + sy * c.height)  # on the vertical side through the corner
        inner = (cx + sx * c.width, cy + sy * c.height)
        # corners 0 and 2 are reached along a vertical side, corners 1 and 3 along a horizontal one
        first, last = (on_y_side, on_x_side) if i in (0, 2) else (on_x_side, on_y_side)
        points += [first, inner, last]
        labels += [True, True, False]
    return np.asarray(points, dtype=float), np.asarray(labels, dtype=bool)


def cutout_square(
    seed: int,
    mesh_size: float = 0.025,
    num_cutouts: Optional[int] = 4,
    size_range: Tuple[float, float] = DEFAULT_SIZE_RANGE,
    refinements: int = 0,
    extent: Tuple[float, float] = (1.0, 1.0),
) -> Mesh:
    """Triangle mesh of the unit square (or a rectangle) with ``num_cutouts`` random corner cut-outs.

    Parameters
    ----------
    seed : int
        Same seed (and arguments) -> identical mesh. The geometry depends on
        the seed only, not on ``mesh_size``.
    mesh_size : float
        Target element size (0.025 gives about 1.5k nodes, 0.06 about 300).
    num_cutouts : int, optional
        ``k`` in 0..4 (None: drawn from the seed).
    size_range : (float, float)
        Range of each cut-out side.
    refinements : int
        Uniform refinements after meshing.
    extent : (float, float)
        Sides ``(width, height)`` of the rectangle ``[0, width] x [0, height]``
        the square is stretched to before meshing (cut-outs stretch with it;
        the elements stay isotropic of size ``mesh_size``). Default: the unit
        square.

    Returns
    -------
    Mesh
        2D triangles; physical groups ``"domain"`` (triangles), ``"outer"``
        (what is left of the square's sides) and ``"cutout"`` (the sides of the
        cut-outs; absent when ``k = 0``).
    """
    h = check_mesh_size(mesh_size)
    width, height = (float(v) for v in extent)
    if not (np.isfinite(width) and np.isfinite(height) and width > 0 and height > 0):
        raise ConfigError(f"extent must be two positive sides, got {tuple(extent)}")
    cutouts = sample_cutouts(seed, num_cutouts, size_range)
    points, is_cutout = cutout_polygon(cutouts)
    points = points * np.asarray([width, height])

    def build(gmsh) -> None:
        geo = gmsh.model.geo
        tags = [geo.addPoint(float(x), float(y), 0.0) for x, y in points]
        lines = [geo.addLine(tags[i], tags[(i + 1) % len(tags)]) for i in range(len(tags))]
        surface = geo.addPlaneSurface([geo.addCurveLoop(lines)])
        geo.synchronize()
        add_physical_groups(gmsh, 1, {
            "outer": [t for t, c in zip(lines, is_cutout) if not c],
            "cutout": [t for t, c in zip(lines, is_cutout) if c],
        })
        add_physical_groups(gmsh, 2, {"domain": [surface]})

    return build_mesh(build, 2, h, refinements, source=f"cutout_square(seed={seed}, k={len(cutouts)})"
                      + ("" if (width, height) == (1.0, 1.0) else f" on {width:g} x {height:g}"))
