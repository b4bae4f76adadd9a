"""The elasticity unit cell: ``[0, 1]^2`` with one random smooth void near the centre.

Modelled on the Geo-FNO elasticity problem (a unit cell with a random void
whose radius is a squashed smooth random function of the angle). Here the void
boundary is a closed spline through 64 points at radius

    r(t) = 0.2 + 0.2 * sigmoid(xi(t)),   xi(t) = sum_{k=0..5} s_k (a_k cos k t + b_k sin k t),

with ``a_k, b_k ~ N(0, 1)`` and ``s_k = 1 / (1 + k)``, so ``0.2 < r < 0.4``.
The void's centre is ``(0.5, 0.5) + U(-0.05, 0.05)^2``, which keeps at least
0.05 of material between the void and every side. The mesh is graded: element
size ``void_mesh_size`` on the void, growing linearly to ``mesh_size`` at
distance 0.25 from it, so the nodes form a non-uniform point cloud.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..mesh import Mesh
from ._build import add_closed_spline, add_physical_groups, build_mesh, check_mesh_size, closed_curve_points

VOID_SAMPLES = 64
GRADING_DISTANCE = 0.25


def void_radius(seed: int, samples: int = VOID_SAMPLES) -> tuple:
    """Centre ``(2,)`` and radii ``(samples,)`` of the random void (see the module docstring)."""
    rng = np.random.default_rng(seed)
    centre = 0.5 + rng.uniform(-0.05, 0.05, size=2)
    theta = 2.0 * np.pi * np.arange(samples) / samples
    xi = np.zeros(samples)
    for k in range(6):
        a, b = rng.standard_normal(2)
        xi += (a * np.cos(k * theta) + b * np.sin(k * theta)) / (1.0 + k)
    return centre, 0.2 + 0.2 / (1.0 + np.exp(-xi))


def unit_cell_with_void(
    seed: int, mesh_size: float = 0.04, void_mesh_size: Optional[float] = None, refinements: int = 0
) -> Mesh:
    """Graded triangle mesh of the unit cell with one random void.

    Parameters
    ----------
    seed : int
    mesh_size : float
        Element size far from the void.
    void_mesh_size : float, optional
        Element size on the void (default ``mesh_size / 3``).
    refinements : int

    Returns
    -------
    Mesh
        Physical groups ``"domain"``, ``"bottom"`` (y = 0), ``"right"``,
        ``"top"`` (y = 1), ``"left"`` and ``"void"``.
    """
    h = check_mesh_size(mesh_size)
    h_void = check_mesh_size(void_mesh_size if void_mesh_size is not None else h / 3.0, "void_mesh_size")
    centre, radii = void_radius(seed)
    return graded_cell_with_void(closed_curve_points(centre, radii), h, h_void, GRADING_DISTANCE, refinements,
                                 source=f"unit_cell_with_void(seed={seed})")


def graded_cell_with_void(void: np.ndarray, mesh_size: float, void_mesh_size: float, grading_distance: float,
                          refinements: int = 0, source: str = "graded_cell_with_void") -> Mesh:
    """Triangle mesh of ``[0, 1]^2`` minus the closed spline ``void``, graded towards the void.

    Parameters
    ----------
    void : ndarray, shape (M, 2)
        Points of the void's boundary (closed spline through them), inside the cell.
    mesh_size, void_mesh_size : float
        Element size far from the void and on it; the size grows linearly in
        between, over ``grading_distance`` from the void.
    grading_distance : float
    refinements : int
    source : str
        Named in errors.

    Returns
    -------
    Mesh
        Physical groups ``"domain"``, ``"bottom"`` (y = 0), ``"right"``,
        ``"top"`` (y = 1), ``"left"`` and ``"void"``.
    """
    h, h_void = mesh_size, void_mesh_size

    def build(gmsh) -> None:
        geo = gmsh.model.geo
        corners = [geo.addPoint(x, y, 0.0) for x, y in ((0, 0), (1, 0), (1, 1), (0, 1))]
        sides = [geo.addLine(corners[i], corners[(i + 1) % 4]) for i in range(4)]
        void_loop, void_curve = add_closed_spline(geo, void)
        surface = geo.addPlaneSurface([geo.addCurveLoop(sides), void_loop])
        geo.synchronize()
        add_physical_groups(gmsh, 1, {"bottom": [sides[0]], "right": [sides[1]], "top": [sides[2]],
                                      "left": [sides[3]], "void": [void_curve]})
        add_physical_groups(gmsh, 2, {"domain": [surface]})
        field = gmsh.model.mesh.field
        dist = field.add("Distance")
        field.setNumbers(dist, "CurvesList", [void_curve])
        field.setNumber(dist, "Sampling", 200)
        grade = field.add("Threshold")
        field.setNumber(grade, "InField", dist)
        field.setNumber(grade, "SizeMin", h_void)
        field.setNumber(grade, "SizeMax", h)
        field.setNumber(grade, "DistMin", 0.0)
        field.setNumber(grade, "DistMax", grading_distance)
        field.setAsBackgroundMesh(grade)

    return build_mesh(build, 2, h, refinements, background=True, source=source)
