"""Shared plumbing of the shape generators: a private gmsh model, fixed meshing options, conversion.

Every generator builds its geometry in a fresh gmsh model inside
:func:`graphops.gmsh_model.gmsh_session`, meshes it with the options set here
(single-threaded, fixed random seed, so the same inputs give the same mesh),
optionally refines it uniformly, and converts it with
:func:`graphops.gmsh_model.mesh_from_gmsh_model`.
"""
from __future__ import annotations

import itertools
from typing import Callable, Dict, Optional, Sequence

import numpy as np

from ..errors import ConfigError, MeshError
from ..gmsh_model import gmsh_session, mesh_from_gmsh_model
from ..mesh import Mesh

_COUNTER = itertools.count()


def check_mesh_size(mesh_size: float, name: str = "mesh_size") -> float:
    """Return ``mesh_size`` as a float, or raise :class:`ConfigError` unless ``0 < mesh_size <= 1``."""
    try:
        h = float(mesh_size)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {mesh_size!r}") from None
    if not (0.0 < h <= 1.0) or not np.isfinite(h):
        raise ConfigError(f"{name} must be in (0, 1], got {mesh_size!r}")
    return h


def check_count(value: int, name: str, low: int, high: int) -> int:
    """Return ``value`` as an int, or raise :class:`ConfigError` unless ``low <= value <= high``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= int(value) <= high:
        raise ConfigError(f"{name} must be an integer in {low}..{high}, got {value!r}")
    return int(value)


def set_mesh_options(
    gmsh, mesh_size: float, min_size: float = 0.0, algorithm: int = 6, background: bool = False, curvature: int = 0
) -> None:
    """Set every gmsh option the generators depend on, so earlier settings cannot leak in.

    Parameters
    ----------
    gmsh : module
    mesh_size : float
        Largest element size.
    min_size : float
        Smallest element size.
    algorithm : int
        gmsh 2D algorithm (6 = Frontal-Delaunay, 5 = Delaunay).
    background : bool
        A background size field drives the size: do not extend sizes from the boundary.
    curvature : int
        Elements per 2 pi of curvature on curved entities (0: off).
    """
    options = {
        "Mesh.MeshSizeMax": mesh_size,
        "Mesh.MeshSizeMin": min_size,
        "Mesh.MeshSizeFactor": 1.0,
        "Mesh.MeshSizeFromPoints": 0,
        "Mesh.MeshSizeFromCurvature": curvature,
        "Mesh.MeshSizeExtendFromBoundary": 0 if background else 1,
        "Mesh.Algorithm": algorithm,
        "Mesh.Algorithm3D": 1,
        "Mesh.RecombineAll": 0,
        "Mesh.ElementOrder": 1,
        "Mesh.Optimize": 1,
        "Mesh.Smoothing": 1,
        "Mesh.RandomSeed": 1,
        "Mesh.MaxNumThreads1D": 1,
        "Mesh.MaxNumThreads2D": 1,
        "Mesh.MaxNumThreads3D": 1,
        "General.NumThreads": 1,
    }
    for name, value in options.items():
        gmsh.option.setNumber(name, value)


def build_mesh(
    build: Callable[[object], None],
    dim: int,
    mesh_size: float,
    refinements: int = 0,
    min_size: float = 0.0,
    algorithm: int = 6,
    background: bool = False,
    curvature: int = 0,
    source: Optional[str] = None,
) -> Mesh:
    """Build a geometry in a private gmsh model, mesh it and convert it.

    Parameters
    ----------
    build : callable
        ``build(gmsh)`` adds the geometry, synchronises it, and names its
        physical groups. It may add size fields (then pass ``background=True``).
    dim : int
        Dimension to mesh (2 or 3).
    mesh_size : float
        Target (largest) element size.
    refinements : int
        Uniform refinements after meshing (each halves the element size).
    min_size, algorithm, background, curvature
        See :func:`set_mesh_options`.
    source : str, optional
        Label for error messages and ``Mesh.source``.

    Returns
    -------
    Mesh
    """
    refinements = check_count(refinements, "refinements", 0, 6)
    with gmsh_session() as gmsh:
        previous = gmsh.model.getCurrent() if gmsh.model.list() else None
        gmsh.model.add(f"graphops-shape-{next(_COUNTER)}")
        try:
            set_mesh_options(gmsh, mesh_size, min_size, algorithm, background, curvature)
            build(gmsh)
            try:
                gmsh.model.mesh.generate(dim)
                for _ in range(refinements):
                    gmsh.model.mesh.refine()
            except Exception as exc:  # gmsh raises a bare Exception
                raise MeshError(f"gmsh failed to mesh the shape ({str(exc).strip().splitlines()[0]})", source) from None
            mesh = mesh_from_gmsh_model(source=source)
        finally:
            gmsh.model.remove()
            if previous:
                gmsh.model.setCurrent(previous)
    if mesh.num_cells() == 0:
        raise MeshError("gmsh produced no volume cells for the shape", source)
    return mesh


def add_physical_groups(gmsh, dim: int, groups: Dict[str, Sequence[int]]) -> None:
    """Add one named physical group per non-empty entity list."""
    for name, tags in groups.items():
        if len(tags):
            gmsh.model.addPhysicalGroup(dim, list(tags), name=name)


def closed_curve_points(centre: Sequence[float], radii: np.ndarray) -> np.ndarray:
    """Points ``(K, 2)`` of a star-shaped closed curve at equally spaced angles.

    Parameters
    ----------
    centre : (2,)
    radii : ndarray, shape (K,)
        Radius at angles ``2 pi k / K``.
    """
    theta = 2.0 * np.pi * np.arange(len(radii)) / len(radii)
    return np.asarray(centre, dtype=float) + radii[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)


def add_closed_spline(geo, points: np.ndarray) -> tuple:
    """Add a closed spline through ``points`` ``(K, 2)`` with the built-in kernel; return ``(curve loop, curve)``."""
    tags = [geo.addPoint(float(x), float(y), 0.0) for x, y in points]
    curve = geo.addSpline(tags + [tags[0]])
    return geo.addCurveLoop([curve]), curve


def add_polygon(geo, points: np.ndarray) -> tuple:
    """Add a closed polygon ``(K, 2)`` with the built-in kernel; return ``(curve loop, line tags)``."""
    tags = [geo.addPoint(float(x), float(y), 0.0) for x, y in points]
    lines = [geo.addLine(tags[i], tags[(i + 1) % len(tags)]) for i in range(len(tags))]
    return geo.addCurveLoop(lines), lines
