"""Build ``torch_geometric.data.Data`` graphs from meshes and point clouds."""
from __future__ import annotations

from typing import Optional, Union

import numpy as np
import torch
from torch_geometric.data import Data

from ..boundary import boundary_features
from ..errors import DataError, MeshError
from ..mesh import Mesh
from .edges import edge_features, merge_edges, mesh_edges
from .neighbours import knn_graph, radius_graph


#: Largest coordinate magnitude whose positions, differences and lengths all fit in float32.
FLOAT32_COORD_LIMIT = 1e37


def _float(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def _check_float32_range(points: np.ndarray, source: Optional[str]) -> None:
    """Raise :class:`DataError` when coordinates would overflow the float32 graph features."""
    big = float(np.abs(points).max(initial=0.0))
    if big > FLOAT32_COORD_LIMIT:
        raise DataError(
            f"coordinates up to {big:.3g} do not fit the float32 graph features (limit {FLOAT32_COORD_LIMIT:g}); "
            "rescale the coordinates",
            source,
        )


def mesh_to_graph(
    mesh: Mesh,
    radius: Optional[float] = None,
    max_num_neighbors: Optional[int] = 32,
    boundary: bool = True,
) -> Data:
    """Turn a mesh into a graph with edge and boundary features.

    Parameters
    ----------
    mesh : Mesh
        A mesh with 2D or 3D volume cells.
    radius : float, optional
        Also connect nodes closer than this (a small ball around each node, as
        BENO does), capped at ``max_num_neighbors`` per node.
    max_num_neighbors : int, optional
        Cap on radius neighbours per node.
    boundary : bool
        Compute boundary features (mask, normals, distance and direction).

    Returns
    -------
    Data
        ``pos`` (N, d) float32; ``edge_index`` (2, E) int64 from cell
        connectivity (undirected, deduplicated, no self loops) merged with the
        radius edges; ``edge_attr`` (E, d + 1) = relative position
        ``pos[src] - pos[dst]`` and length; ``boundary_mask`` (N,) bool;
        ``boundary_normal`` (N, d) outward unit normals (0 inside);
        ``boundary_distance`` (N,); ``boundary_direction`` (N, d) unit vector
        to the nearest boundary point; ``x`` (N, d + 2) = [pos, boundary flag,
        distance to boundary].
    """
    mesh.validate(require_cells=True)
    _check_float32_range(mesh.points, mesh.source)
    edges = mesh_edges(mesh)
    if radius is not None:
        ball = radius_graph(mesh.points, radius, max_num_neighbors=max_num_neighbors).numpy()
        edges = merge_edges([edges, ball], mesh.num_points)
    pos = mesh.points
    data = Data(
        pos=_float(pos),
        edge_index=torch.from_numpy(edges),
        edge_attr=_float(edge_features(pos, edges)),
        num_nodes=mesh.num_points,
    )
    if boundary:
        bf = boundary_features(mesh)
        data.boundary_mask = torch.from_numpy(bf.mask)
        data.boundary_normal = _float(bf.normal)
        data.boundary_distance = _float(bf.distance)
        data.boundary_direction = _float(bf.direction)
        data.x = _float(np.concatenate([pos, bf.mask[:, None], bf.distance[:, None]], axis=1))
    else:
        data.x = _float(pos)
    return data


def point_cloud_to_graph(
    points: Union[Mesh, np.ndarray, torch.Tensor],
    k: Optional[int] = 8,
    radius: Optional[float] = None,
    max_num_neighbors: Optional[int] = None,
) -> Data:
    """A kNN (default) or radius graph over a point cloud (no cells, no boundary).

    Parameters
    ----------
    points : Mesh or array-like, shape (N, d)
    k : int, optional
        Neighbours per point (ignored when ``radius`` is given).
    radius : float, optional
        Connect points closer than this instead of kNN.
    max_num_neighbors : int, optional
        Cap on radius neighbours.

    Returns
    -------
    Data
        ``pos`` (N, d), ``edge_index`` (2, E), ``edge_attr`` (E, d + 1), ``x`` = pos,
        plus the point cloud's point data as ``(N, c)`` float attributes.
    """
    fields = {}
    if isinstance(points, Mesh):
        fields = points.point_data
        pts = points.points
    else:
        pts = points.detach().cpu().numpy() if isinstance(points, torch.Tensor) else np.asarray(points, dtype=np.float64)
    _check_float32_range(np.asarray(pts, dtype=np.float64), getattr(points, "source", None))
    if radius is not None:
        edges = radius_graph(pts, radius, max_num_neighbors=max_num_neighbors)
    elif k is not None:
        edges = knn_graph(pts, k)
    else:
        raise MeshError("give k or radius to build a point-cloud graph")
    e = edges.numpy()
    data = Data(pos=_float(pts), edge_index=edges, edge_attr=_float(edge_features(pts, e)), x=_float(pts), num_nodes=len(pts))
    for name, values in fields.items():
        column = np.asarray(values, dtype=np.float64).reshape(len(pts), -1)
        finite = np.abs(column[np.isfinite(column)])
        if finite.max(initial=0.0) > np.finfo(np.float32).max:  # would silently become inf
            raise DataError(f"point field {name!r} has values beyond the float32 range (3.4e38)",
                            getattr(points, "source", None))
        data[name] = _float(column)
    return data
