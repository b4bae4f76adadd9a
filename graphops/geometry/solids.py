"""Random 3D solids with cylindrical through-holes (OpenCASCADE kernel).

A box ``[0, 1]^3`` or a cylinder (axis z, radius 0.5, centred at ``(0.5, 0.5)``,
height 1) is drilled along z by ``k`` cylindrical holes of radius ``U(0.06, 0.12)``
at random positions keeping a gap of at least 0.04 to the outer wall and to each
other. ``k`` (0..4) is the geometry family.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..errors import ConfigError
from ..mesh import Mesh
from ._build import add_physical_groups, build_mesh, check_count, check_mesh_size, closed_curve_points
from ._shapes import place_holes

SHAPES = ("box", "cylinder")
MAX_HOLES = 4


def solid_with_holes(
    seed: int, mesh_size: float = 0.1, shape: str = "box", num_holes: Optional[int] = 2, refinements: int = 0
) -> Mesh:
    """Tetrahedral mesh of a box or cylinder with random vertical through-holes.

    Parameters
    ----------
    seed : int
    mesh_size : float
        Target element size (0.1 gives about 1-3k nodes); curved walls get at least 12 elements per turn.
    shape : {"box", "cylinder"}
    num_holes : int, optional
        0..4 (None: drawn from the seed).
    refinements : int

    Returns
    -------
    Mesh
        Tetrahedra; physical groups ``"domain"``, ``"bottom"`` (z = 0),
        ``"top"`` (z = 1), ``"side"`` (outer wall) and ``"hole"`` (hole walls;
        absent without holes).
    """
    h = check_mesh_size(mesh_size)
    if shape not in SHAPES:
        raise ConfigError(f"unknown solid shape {shape!r} (known: {', '.join(SHAPES)})")
    rng = np.random.default_rng(seed)
    k = int(rng.integers(0, MAX_HOLES + 1)) if num_holes is None else check_count(num_holes, "num_holes", 0, MAX_HOLES)
    if shape == "box":
        outline = np.array([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])
    else:
        outline = closed_curve_points((0.5, 0.5), np.full(128, 0.5))
    radii = rng.uniform(0.06, 0.12, size=k)
    centres = place_holes(rng, outline, radii, 0.04)

    def build(gmsh) -> None:
        occ = gmsh.model.occ
        body = occ.addBox(0, 0, 0, 1, 1, 1) if shape == "box" else occ.addCylinder(0.5, 0.5, 0, 0, 0, 1, 0.5)
        if k:
            tools = [(3, occ.addCylinder(c[0], c[1], -0.1, 0, 0, 1.2, r)) for c, r in zip(centres, radii)]
            out, _ = occ.cut([(3, body)], tools)
            volumes = [t for d, t in out if d == 3]
        else:
            volumes = [body]
        occ.synchronize()
        groups = {"bottom": [], "top": [], "side": [], "hole": []}
        eps = 1e-6
        for _, surf in gmsh.model.getBoundary([(3, v) for v in volumes], oriented=False):
            x0, y0, z0, x1, y1, z1 = gmsh.model.getBoundingBox(2, surf)
            if z1 - z0 < eps:
                groups["bottom" if z0 < 0.5 else "top"].append(surf)
            elif x0 < eps or y0 < eps or x1 > 1 - eps or y1 > 1 - eps:
                groups["side"].append(surf)
            else:
                groups["hole"].append(surf)
        add_physical_groups(gmsh, 2, groups)
        add_physical_groups(gmsh, 3, {"domain": volumes})

    return build_mesh(build, 3, h, refinements, curvature=12, source=f"solid_with_holes(seed={seed}, shape={shape}, holes={k})")
