"""The one in-memory mesh type of graphops.

Every reader returns a :class:`Mesh` and every writer takes one. A mesh with no
cells is a point cloud.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterator, Optional, Tuple, Union

import numpy as np

from .cells import CELL_CORNERS, CELL_DIM, VOLUME_TYPES
from .errors import MeshError


@dataclass
class PhysicalGroup:
    """A gmsh physical group (or any named set of cells).

    Attributes
    ----------
    name : str
        The group's name; unnamed gmsh groups are named after their tag.
    dim : int
        Topological dimension of the group's entities (1 = curves, 2 = surfaces...).
    tag : int
        The gmsh physical tag (``-1`` when the group did not come from gmsh).
    cells : dict of str to ndarray
        Cell type -> connectivity ``(M, k)`` of the cells in the group.
    """

    name: str
    dim: int
    tag: int = -1
    cells: Dict[str, np.ndarray] = field(default_factory=dict)

    def nodes(self) -> np.ndarray:
        """Sorted unique node indices ``(K,)`` of the group's cells."""
        if not self.cells:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate([c.ravel() for c in self.cells.values()]))


#: Relative tolerance under which z coordinates count as zero: ``max |z| <= PLANAR_RTOL * extent``,
#: with ``extent`` the largest side of the bounding box (files written in single precision or
#: through a rotation carry z ~ 1e-18 instead of exactly 0).
PLANAR_RTOL = 1e-10


def planar_points(points: np.ndarray, top_dim: int) -> np.ndarray:
    """Drop the z column of a mesh of dimension <= 2 whose z coordinates are numerically zero.

    Parameters
    ----------
    points : ndarray, shape (N, 3)
    top_dim : int
        Largest topological dimension of the mesh's cells.

    Returns
    -------
    ndarray, shape (N, 2) or (N, 3)
        ``points[:, :2]`` when ``max |z| <= PLANAR_RTOL * extent`` (see :data:`PLANAR_RTOL`),
        ``points`` otherwise (3D meshes and surfaces that leave the plane z = 0).
    """
    if points.ndim != 2 or points.shape[1] != 3 or top_dim > 2 or len(points) == 0:
        return points
    z = np.abs(points[:, 2])
    extent = float(np.max(np.ptp(points, axis=0))) if len(points) > 1 else 0.0
    if not np.all(np.isfinite(z)):
        return points
    if z.max() == 0.0 or (extent > 0.0 and z.max() <= PLANAR_RTOL * extent):
        return np.ascontiguousarray(points[:, :2])
    return points


def _connectivity(cells) -> np.ndarray:
    """Cell connectivity as an int64 ``(M, k)`` array (an empty block keeps its width)."""
    arr = np.asarray(cells, dtype=np.int64)
    if arr.ndim == 2:
        return arr
    return arr.reshape(len(arr), -1) if arr.size else arr.reshape(len(arr), 0)


@dataclass
class Mesh:
    """Points, cell blocks per type, physical groups, and point/cell data.

    Attributes
    ----------
    points : ndarray, shape (N, d)
        Node coordinates, ``d`` = 2 for planar meshes, 3 otherwise.
    cells : dict of str to ndarray
        Cell type (``"triangle"``, ``"tetra"``...) -> connectivity ``(M, k)``
        of int64 node indices (corner nodes only). Lower-dimensional cells
        (boundary lines, surface triangles of a 3D mesh) are kept too.
    point_data : dict of str to ndarray
        Fields with one row per node, shape ``(N,)`` or ``(N, c)``.
    cell_data : dict of str to dict of str to ndarray
        Field name -> cell type -> values ``(M,)`` or ``(M, c)``.
    groups : dict of str to PhysicalGroup
        Physical groups by name.
    source : str or None
        The file the mesh was read from (used in error messages).
    """

    points: np.ndarray
    cells: Dict[str, np.ndarray] = field(default_factory=dict)
    point_data: Dict[str, np.ndarray] = field(default_factory=dict)
    cell_data: Dict[str, Dict[str, np.ndarray]] = field(default_factory=dict)
    groups: Dict[str, PhysicalGroup] = field(default_factory=dict)
    source: Optional[str] = None

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] not in (1, 2, 3):
            raise MeshError(f"points must have shape (N, 2) or (N, 3), got {pts.shape}", self.source)
        self.points = pts
        self.cells = {t: _connectivity(c) for t, c in self.cells.items()}

    # ------------------------------------------------------------------ shape
    @property
    def num_points(self) -> int:
        """Number of nodes ``N``."""
        return int(self.points.shape[0])

    @property
    def geometric_dim(self) -> int:
        """Number of coordinates per node (2 or 3)."""
        return int(self.points.shape[1])

    @property
    def is_point_cloud(self) -> bool:
        """True when the mesh has no cells."""
        return not any(len(c) for c in self.cells.values())

    @property
    def dim(self) -> int:
        """Topological dimension: the largest dimension among the cell blocks.

        For a point cloud this is the geometric dimension.
        """
        dims = [CELL_DIM.get(t, 0) for t, c in self.cells.items() if len(c)]
        return max(dims) if dims else self.geometric_dim

    @property
    def kind(self) -> str:
        """What the mesh is, in words: ``"2D mesh"``, ``"3D mesh"``, ``"surface mesh in 3D"``,
        ``"curve mesh in 2D"``/``"... in 3D"`` or ``"2D point cloud"``/``"3D point cloud"`` (used in messages)."""
        if self.is_point_cloud:
            return f"{self.geometric_dim}D point cloud"
        if self.dim == self.geometric_dim:
            return f"{self.dim}D mesh"
        name = {1: "curve", 2: "surface"}.get(self.dim, f"{self.dim}D")
        return f"{name} mesh in {self.geometric_dim}D"

    def volume_cells(self) -> Dict[str, np.ndarray]:
        """Cell blocks of the mesh's own dimension (triangles/quads in 2D, solids in 3D)."""
        d = self.dim
        return {t: c for t, c in self.cells.items() if len(c) and CELL_DIM.get(t) == d and t in VOLUME_TYPES}

    def num_cells(self, cell_type: Optional[str] = None) -> int:
        """Number of cells of one type, or of all volume cells when ``cell_type`` is None."""
        if cell_type is not None:
            return int(len(self.cells.get(cell_type, ())))
        return int(sum(len(c) for c in self.volume_cells().values()))

    def iter_cells(self) -> Iterator[Tuple[str, np.ndarray]]:
        """Yield ``(cell_type, connectivity)`` for every non-empty block."""
        for t, c in self.cells.items():
            if len(c):
                yield t, c

    def bounding_box(self) -> Tuple[np.ndarray, np.ndarray]:
        """Lower and upper corners ``(d,)`` of the axis-aligned bounding box."""
        if self.num_points == 0:
            raise MeshError("the mesh has no points", self.source)
        return self.points.min(axis=0), self.points.max(axis=0)

    def group(self, key: Union[str, int]) -> PhysicalGroup:
        """A physical group by name, or by gmsh tag when ``key`` is an int."""
        if isinstance(key, str):
            if key in self.groups:
                return self.groups[key]
        else:
            for g in self.groups.values():
                if g.tag == key:
                    return g
        known = ", ".join(repr(n) for n in self.groups) or "none"
        raise MeshError(f"no physical group {key!r} (groups: {known})", self.source)

    # --------------------------------------------------------------- checks
    def validate(self, require_cells: bool = False) -> "Mesh":
        """Check coordinates and connectivity; raise :class:`MeshError` on the first problem.

        Parameters
        ----------
        require_cells : bool
            Also require at least one 2D or 3D volume cell block.

        Returns
        -------
        Mesh
            ``self``, to allow chaining.
        """
        if self.num_points == 0:
            raise MeshError("the mesh has no points", self.source)
        bad = ~np.isfinite(self.points)
        if bad.any():
            rows = np.unique(np.nonzero(bad)[0])
            raise MeshError(
                f"{len(rows)} node(s) have NaN or infinite coordinates (first: node {rows[0]})", self.source
            )
        for t, c in self.iter_cells():
            if t in CELL_CORNERS and c.shape[1] != CELL_CORNERS[t]:
                raise MeshError(f"{t} cells need {CELL_CORNERS[t]} nodes each, got {c.shape[1]}", self.source)
            if CELL_DIM.get(t, 0) > self.geometric_dim:
                raise MeshError(f"{t} cells need 3D points, the mesh has {self.geometric_dim} coordinates per node",
                                self.source)
            if c.min() < 0 or c.max() >= self.num_points:
                raise MeshError(
                    f"{t} cells refer to node {int(c.max() if c.max() >= self.num_points else c.min())}"
                    f" but the mesh has {self.num_points} nodes",
                    self.source,
                )
        for name, values in self.point_data.items():
            if len(values) != self.num_points:
                raise MeshError(
                    f"point field {name!r} has {len(values)} rows for {self.num_points} nodes", self.source
                )
        if require_cells and not self.volume_cells():
            present = ", ".join(f"{t} ({len(c)})" for t, c in self.iter_cells()) or "no cells at all"
            raise MeshError(f"the mesh has no 2D or 3D volume cells (found: {present})", self.source)
        return self

    # ------------------------------------------------------------- editing
    def with_point_data(self, **fields: np.ndarray) -> "Mesh":
        """A shallow copy with extra point fields (e.g. predictions) added.

        Parameters
        ----------
        **fields : ndarray, shape (N,) or (N, c)
            New point fields; torch tensors are converted to numpy.
        """
        data = dict(self.point_data)
        for name, values in fields.items():
            arr = values.detach().cpu().numpy() if hasattr(values, "detach") else np.asarray(values)
            if len(arr) != self.num_points:
                raise MeshError(f"point field {name!r} has {len(arr)} rows for {self.num_points} nodes", self.source)
            data[name] = arr
        return Mesh(self.points, dict(self.cells), data, dict(self.cell_data), dict(self.groups), self.source)

    def remove_unused_points(self) -> "Mesh":
        """Drop nodes no cell refers to (e.g. mid-edge nodes of reduced higher-order cells).

        Point data and group connectivity are renumbered. A point cloud is returned unchanged.
        """
        if self.is_point_cloud:
            return self
        used = np.zeros(self.num_points, dtype=bool)
        for _, c in self.iter_cells():
            used[c.ravel()] = True
        if used.all():
            return self
        new_index = np.full(self.num_points, -1, dtype=np.int64)
        new_index[used] = np.arange(int(used.sum()))
        cells = {t: new_index[c] for t, c in self.cells.items()}
        groups = {
            n: PhysicalGroup(g.name, g.dim, g.tag, {t: new_index[c] for t, c in g.cells.items()})
            for n, g in self.groups.items()
        }
        point_data = {n: v[used] for n, v in self.point_data.items()}
        return Mesh(self.points[used], cells, point_data, dict(self.cell_data), groups, self.source)

    def __repr__(self) -> str:
        blocks = ", ".join(f"{t}: {len(c)}" for t, c in self.iter_cells()) or "point cloud"
        return f"Mesh(points={self.num_points}, dim={self.dim}, {blocks})"
