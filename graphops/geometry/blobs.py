"""Random planar domains with holes: straight-sided polygons and smooth spline blobs.

Both live in the unit square around ``(0.5, 0.5)``; the geometry depends only
on the seed (not on the mesh size), so meshes at several sizes of one seed
discretise the same domain.

Distributions
-------------
Polygon (:func:`polygon_with_holes`): outer boundary a star-shaped polygon with
``U{5..10}`` vertices at jittered equal angles and radii ``U(0.3, 0.5)``
(generally non-convex). Holes: star-shaped polygons with ``U{3..6}`` vertices,
radii ``rho * U(0.7, 1.0)``, ``rho ~ U(0.05, 0.1)``.

Blob (:func:`blob_with_holes`): outer boundary a closed spline through 48
points at radius ``0.35 (1 + sum_{k=2..4} a_k cos k t + b_k sin k t)``,
``a_k, b_k ~ U(-0.06, 0.06)``; holes are splines through 24 points at radius
``rho (1 + sum_{k=2,3} ...)`` with amplitude 0.1, ``rho ~ U(0.04, 0.08)``.

Holes keep a gap of at least 0.03 to the outer boundary and to each other.
The number of holes is the geometry family.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..mesh import Mesh
from ._build import (
    add_closed_spline,
    add_physical_groups,
    add_polygon,
    build_mesh,
    check_count,
    check_mesh_size,
    closed_curve_points,
)
from ._shapes import fourier_radius, place_holes, star_polygon

CENTRE = (0.5, 0.5)
HOLE_MARGIN = 0.03
MAX_HOLES = 4


def _num_holes(rng: np.random.Generator, num_holes: Optional[int]) -> int:
    if num_holes is None:
        return int(rng.integers(0, MAX_HOLES + 1))
    return check_count(num_holes, "num_holes", 0, MAX_HOLES)


def polygon_with_holes(seed: int, mesh_size: float = 0.03, num_holes: Optional[int] = 2, refinements: int = 0) -> Mesh:
    """Triangle mesh of a random star-shaped polygon with polygonal holes.

    The boundary is exactly polygonal, so finite-element convergence tests
    see no geometry error (useful for checking P2 rates).

    Parameters
    ----------
    seed : int
    mesh_size : float
        Target element size.
    num_holes : int, optional
        0..4 (None: drawn from the seed).
    refinements : int
        Uniform refinements after meshing.

    Returns
    -------
    Mesh
        Physical groups ``"domain"``, ``"outer"``, ``"hole"`` (absent without holes).
    """
    h = check_mesh_size(mesh_size)
    rng = np.random.default_rng(seed)
    k = _num_holes(rng, num_holes)
    outer = star_polygon(rng, CENTRE, int(rng.integers(5, 11)), (0.3, 0.5))
    radii = rng.uniform(0.05, 0.1, size=k)
    centres = place_holes(rng, outer, radii, HOLE_MARGIN)
    holes = [star_polygon(rng, c, int(rng.integers(3, 7)), (0.7 * r, r), jitter=0.15) for c, r in zip(centres, radii)]

    def build(gmsh) -> None:
        geo = gmsh.model.geo
        outer_loop, outer_lines = add_polygon(geo, outer)
        hole_loops, hole_lines = [], []
        for hole in holes:
            loop, lines = add_polygon(geo, hole)
            hole_loops.append(loop)
            hole_lines += lines
        surface = geo.addPlaneSurface([outer_loop] + hole_loops)
        geo.synchronize()
        add_physical_groups(gmsh, 1, {"outer": outer_lines, "hole": hole_lines})
        add_physical_groups(gmsh, 2, {"domain": [surface]})

    return build_mesh(build, 2, h, refinements, source=f"polygon_with_holes(seed={seed}, holes={k})")


def blob_with_holes(seed: int, mesh_size: float = 0.03, num_holes: Optional[int] = 2, refinements: int = 0) -> Mesh:
    """Triangle mesh of a smooth random spline blob with smooth random holes.

    Parameters
    ----------
    seed : int
    mesh_size : float
    num_holes : int, optional
        0..4 (None: drawn from the seed).
    refinements : int

    Returns
    -------
    Mesh
        Physical groups ``"domain"``, ``"outer"``, ``"hole"`` (absent without holes).
    """
    h = check_mesh_size(mesh_size)
    rng = np.random.default_rng(seed)
    k = _num_holes(rng, num_holes)
    outer = closed_curve_points(CENTRE, fourier_radius(rng, 0.35, 0.06, range(2, 5), 48))
    rho = rng.uniform(0.04, 0.08, size=k)
    bound = rho * 1.25  # the hole's radius never exceeds 1.2 rho (two modes of amplitude 0.1)
    centres = place_holes(rng, outer, bound, HOLE_MARGIN)
    rho = bound / 1.25
    holes = [closed_curve_points(c, fourier_radius(rng, r, 0.1, range(2, 4), 24)) for c, r in zip(centres, rho)]

    def build(gmsh) -> None:
        geo = gmsh.model.geo
        outer_loop, outer_curve = add_closed_spline(geo, outer)
        loops, curves = [], []
        for hole in holes:
            loop, curve = add_closed_spline(geo, hole)
            loops.append(loop)
            curves.append(curve)
        surface = geo.addPlaneSurface([outer_loop] + loops)
        geo.synchronize()
        add_physical_groups(gmsh, 1, {"outer": [outer_curve], "hole": curves})
        add_physical_groups(gmsh, 2, {"domain": [surface]})

    return build_mesh(build, 2, h, refinements, source=f"blob_with_holes(seed={seed}, holes={k})")
