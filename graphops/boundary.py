"""Boundary of a mesh: facets of exactly one volume cell, normals, and distances to it.

Boundary facets are edges (``line``) of 2D meshes and faces (``triangle`` /
``quad``) of 3D meshes. Everything here is vectorised numpy; memory grows
linearly with the number of cells.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np
from scipy.spatial import cKDTree

from .cells import CELL_FACETS
from .errors import MeshError
from .mesh import Mesh


def row_keys(rows: np.ndarray, num_nodes: int) -> np.ndarray:
    """One sortable key per row of node indices, equal for equal rows.

    Parameters
    ----------
    rows : ndarray, shape (M, k)
        Node indices, already sorted along axis 1 when order must not matter.
    num_nodes : int
        Upper bound on node indices.

    Returns
    -------
    ndarray, shape (M,)
        int64 keys when ``num_nodes ** k`` fits in 63 bits, otherwise a
        void-typed view comparing rows bytewise.
    """
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    k = rows.shape[1]
    if float(num_nodes) ** k < 2.0**62:
        keys = rows[:, 0].copy()
        for j in range(1, k):
            keys *= num_nodes
            keys += rows[:, j]
        return keys
    return rows.view(np.dtype((np.void, rows.dtype.itemsize * k))).ravel()


@dataclass
class BoundaryFacets:
    """Boundary facets of one type with the centroid of the cell that owns each.

    Attributes
    ----------
    cells : ndarray, shape (F, k)
        Node indices of each facet.
    owner_centroid : ndarray, shape (F, d)
        Centroid of the single volume cell the facet belongs to (for orienting normals).
    """

    cells: np.ndarray
    owner_centroid: np.ndarray


def _boundary_facets_with_owner(mesh: Mesh) -> Dict[str, BoundaryFacets]:
    volume = mesh.volume_cells()
    if not volume:
        present = ", ".join(f"{t} ({len(c)})" for t, c in mesh.iter_cells()) or "no cells at all"
        raise MeshError(f"the mesh has no 2D or 3D volume cells to take a boundary of (found: {present})", mesh.source)
    pieces: Dict[str, list] = {}
    for ctype, conn in volume.items():
        for ftype, local in CELL_FACETS[ctype]:
            pieces.setdefault(ftype, []).append((ctype, conn[:, list(local)], np.arange(len(conn))))
    out: Dict[str, BoundaryFacets] = {}
    for ftype, parts in pieces.items():
        facets = np.concatenate([p[1] for p in parts])
        keys = row_keys(np.sort(facets, axis=1), mesh.num_points)
        order = np.argsort(keys)
        k = keys[order]
        differs = k[1:] != k[:-1]
        alone = np.ones(len(k), dtype=bool)  # facets whose key appears exactly once
        alone[1:] &= differs
        alone[:-1] &= differs
        once = np.sort(order[alone])
        # centroid of the owning cell, computed for boundary facets only
        owner = np.empty((len(once), mesh.geometric_dim))
        start = 0
        for ctype, part, cell_ids in parts:
            sel = once[(once >= start) & (once < start + len(part))]
            owner[np.searchsorted(once, sel)] = mesh.points[volume[ctype][cell_ids[sel - start]]].mean(axis=1)
            start += len(part)
        out[ftype] = BoundaryFacets(facets[once], owner)
    return out


def _require_boundary(mesh: Mesh) -> Dict[str, BoundaryFacets]:
    """Boundary facets, or :class:`MeshError` when there are none (distances to the boundary are undefined)."""
    facets = _boundary_facets_with_owner(mesh)
    if not any(len(f.cells) for f in facets.values()):
        raise MeshError(
            "the mesh has no boundary facets (a closed surface, or only degenerate cells), "
            "so distances to the boundary are undefined",
            mesh.source,
        )
    return facets


def boundary_facets(mesh: Mesh) -> Dict[str, np.ndarray]:
    """Facets that belong to exactly one volume cell.

    Parameters
    ----------
    mesh : Mesh
        A mesh with 2D or 3D volume cells.

    Returns
    -------
    dict of str to ndarray
        Facet type (``"line"``, ``"triangle"``, ``"quad"``) -> connectivity ``(F, k)``.
    """
    return {t: f.cells for t, f in _boundary_facets_with_owner(mesh).items()}


def boundary_nodes(mesh: Mesh) -> np.ndarray:
    """Boolean mask ``(N,)`` of the nodes lying on a boundary facet."""
    return _mask_from(_boundary_facets_with_owner(mesh), mesh.num_points)


def _mask_from(facets: Dict[str, BoundaryFacets], num_nodes: int) -> np.ndarray:
    mask = np.zeros(num_nodes, dtype=bool)
    for bf in facets.values():
        mask[bf.cells.ravel()] = True
    return mask


def _facet_normals(points: np.ndarray, ftype: str, bf: BoundaryFacets) -> np.ndarray:
    """Outward normals ``(F, d)`` scaled by the facet's length/area."""
    p = points[bf.cells]
    mid = p.mean(axis=1)
    away = mid - bf.owner_centroid
    if ftype == "line":
        tangent = p[:, 1] - p[:, 0]
        length = np.linalg.norm(tangent, axis=1, keepdims=True)
        t_hat = tangent / np.maximum(length, 1e-300)
        normal = away - (away * t_hat).sum(axis=1, keepdims=True) * t_hat
        normal *= length / np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-300)
        return normal
    if ftype == "triangle":
        normal = 0.5 * np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    else:  # quad
        normal = 0.5 * np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1])
    flip = (normal * away).sum(axis=1) < 0
    normal[flip] *= -1.0
    return normal


def boundary_normals(mesh: Mesh) -> np.ndarray:
    """Outward unit normals at boundary nodes, zero at interior nodes.

    The normal at a node is the mean of the unit normals of its boundary
    facets (so a 2D corner gets the bisector whatever the mesh size), each
    oriented away from the cell that owns the facet.

    Returns
    -------
    ndarray, shape (N, d)
    """
    return _normals_from(_boundary_facets_with_owner(mesh), mesh.points)


def _normals_from(facets: Dict[str, BoundaryFacets], points: np.ndarray) -> np.ndarray:
    n, d = points.shape
    acc = np.zeros((n, d))
    for ftype, bf in facets.items():
        normal = _facet_normals(points, ftype, bf)
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-300)
        k = bf.cells.shape[1]
        nodes = bf.cells.ravel()
        for j in range(d):
            acc[:, j] += np.bincount(nodes, weights=np.repeat(normal[:, j], k), minlength=n)
    norm = np.linalg.norm(acc, axis=1, keepdims=True)
    return np.divide(acc, norm, out=np.zeros_like(acc), where=norm > 0)


def _closest_on_segments(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Closest points ``(M, k, d)`` on segments ``a``-``b`` ``(M, k, d)`` to ``p`` ``(M, 1, d)``."""
    ab = b - a
    t = ((p - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-300)
    return a + np.clip(t, 0.0, 1.0)[..., None] * ab


def _closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Closest points ``(M, k, 3)`` on triangles ``abc`` to ``p`` ``(M, 1, 3)``."""
    ab, ac = b - a, c - a
    n = np.cross(ab, ac)
    nn = np.maximum((n * n).sum(-1, keepdims=True), 1e-300)
    proj = p - ((p - a) * n).sum(-1, keepdims=True) / nn * n
    # barycentric coordinates of the projection
    ap = proj - a
    d00, d01, d11 = (ab * ab).sum(-1), (ab * ac).sum(-1), (ac * ac).sum(-1)
    d20, d21 = (ap * ab).sum(-1), (ap * ac).sum(-1)
    den = np.maximum(d00 * d11 - d01 * d01, 1e-300)
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    inside = (v >= 0) & (w >= 0) & (v + w <= 1)
    best = proj.copy() if proj.shape == a.shape else np.broadcast_to(proj, a.shape).copy()
    edges = [_closest_on_segments(p, a, b), _closest_on_segments(p, b, c), _closest_on_segments(p, c, a)]
    dists = np.stack([((e - p) ** 2).sum(-1) for e in edges])
    pick = np.argmin(dists, axis=0)
    on_edge = np.choose(pick[..., None], edges)
    best[~inside] = on_edge[~inside]
    return best


def distance_to_boundary(
    mesh: Mesh, query: np.ndarray | None = None, k: int = 4, chunk: int = 200_000
) -> Tuple[np.ndarray, np.ndarray]:
    """Distance and unit direction from points to the nearest boundary point.

    The nearest point is searched exactly on the ``k`` boundary facets whose
    centroids are nearest (KD-tree), which finds the true nearest facet for
    any reasonably graded mesh. Boundary nodes get distance 0 and their
    outward normal as direction.

    Parameters
    ----------
    mesh : Mesh
        A mesh with volume cells.
    query : ndarray, shape (M, d), optional
        Points to measure from; the mesh nodes when omitted.
    k : int
        Candidate facets per point.
    chunk : int
        Points processed at a time (bounds memory).

    Returns
    -------
    distance : ndarray, shape (M,)
    direction : ndarray, shape (M, d)
        Unit vector from the point towards its nearest boundary point.
    """
    facets = _require_boundary(mesh)
    if query is None:
        return _distances_from(facets, mesh.points, None, k, chunk)
    q = np.asarray(query, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] != mesh.geometric_dim:
        raise MeshError(f"query points must have shape (M, {mesh.geometric_dim}), got {q.shape}", mesh.source)
    return _distances_from(facets, mesh.points, q, k, chunk)


def _distances_from(
    facets: Dict[str, BoundaryFacets], pts: np.ndarray, query: np.ndarray | None, k: int, chunk: int
) -> Tuple[np.ndarray, np.ndarray]:
    d = pts.shape[1]
    q = pts if query is None else query
    # Triangulate: every facet becomes segments (2D/line) or triangles (3D).
    if "line" in facets:
        simplices = facets["line"].cells
    else:
        parts = [facets[t].cells for t in ("triangle",) if t in facets]
        if "quad" in facets:
            quad = facets["quad"].cells
            parts += [quad[:, [0, 1, 2]], quad[:, [0, 2, 3]]]
        simplices = np.concatenate(parts)
    centroids = pts[simplices].mean(axis=1)
    tree = cKDTree(centroids)
    kk = min(k, len(simplices))
    dist = np.empty(len(q))
    direction = np.zeros((len(q), d))
    for start in range(0, len(q), chunk):
        block = q[start : start + chunk]
        _, idx = tree.query(block, k=kk, workers=-1)
        idx = idx.reshape(len(block), kk)
        corners = pts[simplices[idx]]  # (M, k, nv, d)
        p = block[:, None, :]
        if simplices.shape[1] == 2:
            closest = _closest_on_segments(p, corners[:, :, 0], corners[:, :, 1])
        else:
            closest = _closest_on_triangles(p, corners[:, :, 0], corners[:, :, 1], corners[:, :, 2])
        sq = ((closest - p) ** 2).sum(-1)
        j = np.argmin(sq, axis=1)
        rows = np.arange(len(block))
        vec = closest[rows, j] - block
        dist[start : start + chunk] = np.sqrt(sq[rows, j])
        direction[start : start + chunk] = vec
    norm = dist[:, None]
    direction = np.divide(direction, norm, out=np.zeros_like(direction), where=norm > 1e-12 * mesh_scale(pts))
    if query is None:
        on_boundary = _mask_from(facets, len(pts))
        dist[on_boundary] = 0.0
        direction[on_boundary] = _normals_from(facets, pts)[on_boundary]
    return dist, direction


@dataclass
class BoundaryFeatures:
    """Everything graphs need to know about the boundary, per node.

    Attributes
    ----------
    mask : ndarray, shape (N,), bool
    normal : ndarray, shape (N, d)
        Outward unit normals (zero at interior nodes).
    distance : ndarray, shape (N,)
    direction : ndarray, shape (N, d)
        Unit vector towards the nearest boundary point (outward normal on the boundary).
    facets : dict of str to ndarray
        Boundary facet connectivity per facet type.
    """

    mask: np.ndarray
    normal: np.ndarray
    distance: np.ndarray
    direction: np.ndarray
    facets: Dict[str, np.ndarray]


def boundary_features(mesh: Mesh, k: int = 4) -> BoundaryFeatures:
    """Mask, normals, distances and directions, finding the boundary facets once."""
    facets = _require_boundary(mesh)
    mask = _mask_from(facets, mesh.num_points)
    normal = _normals_from(facets, mesh.points)
    dist, direction = _distances_from(facets, mesh.points, None, k, 200_000)
    return BoundaryFeatures(mask, normal, dist, direction, {t: f.cells for t, f in facets.items()})


def mesh_scale(points: np.ndarray) -> float:
    """Length of the bounding-box diagonal of ``points`` (N, d) (1.0 when degenerate)."""
    if len(points) == 0:
        return 1.0
    diag = float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))
    return diag if diag > 0 else 1.0
