"""Interpolation between scattered points and uniform grids.

points -> grid (:func:`scatter_to_grid`, :class:`GridScatter`)
    Piecewise-linear interpolation on the Delaunay triangulation of the points
    (what ``scipy.interpolate.LinearNDInterpolator`` does) for grid nodes inside
    the points' convex hull, nearest point (``cKDTree``) for nodes outside.
    The map is linear in the values, so it is kept as a sparse matrix
    (grid nodes x points) and reused for every field on the same points.

grid -> points (:func:`sample_grid`, :func:`sample_grid_torch`)
    Exact multilinear interpolation in the grid cell holding each point, with
    node ``k`` of axis ``j`` at ``linspace(lower[j], upper[j], shape[j])[k]``.
    Points outside the grid box are clipped to it (they take the value at the
    nearest point of the box). The torch version is differentiable with
    respect to the grid values (not the points).
"""
from __future__ import annotations

from itertools import product
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import scipy.sparse as sp
from scipy.spatial import Delaunay, QhullError, cKDTree
from threadpoolctl import threadpool_limits

from ..errors import DataError
from .grids import GridSpec
from .kdtree import Decomposition, as_points

_CHUNK = 1 << 18  # points per block when sampling (bounds memory)


def _values(values, n: int, name: str = "values") -> Tuple[np.ndarray, bool]:
    """Values as (n, c) float64 and whether they came without a channel axis."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if arr.ndim not in (1, 2) or arr.shape[0] != n:
        raise DataError(f"{name} must have shape ({n},) or ({n}, c), got {tuple(arr.shape)}")
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise DataError(f"{name} contain NaN or infinite entries")
    return (arr[:, None], True) if arr.ndim == 1 else (arr, False)


def _check_grid(grid: GridSpec, dim: int) -> None:
    if not isinstance(grid, GridSpec):
        raise DataError(f"expected a GridSpec, got {type(grid).__name__}")
    if grid.dim != dim:
        raise DataError(f"grid is {grid.dim}D but the points are {dim}D")


# ----------------------------------------------------------------------------- points -> grid


class GridScatter:
    """The linear map from values at scattered points to values at a grid's nodes.

    Parameters
    ----------
    points : array-like, shape (N, d), d = 2 or 3
    grid : GridSpec

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix, shape (G, N)
        ``grid_values = matrix @ point_values``; G = ``grid.size``. Rows of nodes
        inside the convex hull hold the d+1 barycentric weights of the Delaunay
        simplex around the node, the other rows a single 1 at the nearest point.
    inside : ndarray, shape (G,), bool
        Nodes interpolated linearly (inside the hull).

    Notes
    -----
    With fewer than d+1 points, or points that span no volume (collinear in 2D,
    coplanar in 3D), there is no triangulation and every node takes its
    nearest point. Barycentric coordinates get one step of iterative refinement,
    so a linear field is reproduced to rounding error even in flat simplices.
    """

    def __init__(self, points, grid: GridSpec) -> None:
        x = as_points(points)
        _check_grid(grid, x.shape[1])
        self.grid = grid
        self.num_points = len(x)
        nodes = grid.nodes()
        n_nodes, d = nodes.shape
        center = 0.5 * (x.min(axis=0) + x.max(axis=0))  # shifting keeps the triangulation, helps rounding
        # scaling by a power of two is exact and keeps every weight; it keeps qhull (which crashes the
        # process on coordinates near 1e150) and the KD-tree's squared distances in range
        extent = float((x.max(axis=0) - x.min(axis=0)).max())
        scale = 2.0 ** np.floor(np.log2(extent)) if extent > 0 else 1.0
        xs, ns = (x - center) / scale, (nodes - center) / scale
        simplex = np.full(n_nodes, -1, dtype=np.int64)
        tri = None
        # scipy inverts one small matrix per simplex through LAPACK; with a threaded
        # BLAS each call pays a thread hand-off (100x slower on a busy machine)
        with threadpool_limits(limits=1, user_api="blas"):
            if len(x) > d:
                try:
                    tri = Delaunay(xs)
                    simplex = tri.find_simplex(ns).astype(np.int64)
                    transform = tri.transform
                except QhullError:
                    tri = None
        inside = simplex >= 0
        rows, cols, vals = [], [], []
        if inside.any():
            sid = simplex[inside]
            q = ns[inside]
            corners = tri.simplices[sid]  # (k, d+1)
            trans = transform[sid]  # (k, d+1, d): inverse matrix and reference vertex
            lam = np.einsum("kij,kj->ki", trans[:, :d], q - trans[:, d])
            lam = np.concatenate([lam, 1.0 - lam.sum(axis=1, keepdims=True)], axis=1)
            # one refinement step: solve again for the residual of the reconstructed position
            resid = q - np.einsum("ki,kij->kj", lam, xs[corners])
            dlam = np.einsum("kij,kj->ki", trans[:, :d], resid)
            lam += np.concatenate([dlam, -dlam.sum(axis=1, keepdims=True)], axis=1)
            rows.append(np.repeat(np.flatnonzero(inside), d + 1))
            cols.append(corners.ravel())
            vals.append(lam.ravel())
        if (~inside).any():
            _, nearest = cKDTree(xs).query(ns[~inside])
            rows.append(np.flatnonzero(~inside))
            cols.append(np.asarray(nearest, dtype=np.int64))
            vals.append(np.ones(int((~inside).sum())))
        self.matrix = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_nodes, len(x))
        )
        self.inside = inside

    def __call__(self, values) -> np.ndarray:
        """Grid values of a field given at the points.

        Parameters
        ----------
        values : array-like, shape (N,) or (N, c)

        Returns
        -------
        ndarray, shape (*grid.shape) or (*grid.shape, c)
        """
        v, scalar = _values(values, self.num_points)
        out = np.asarray(self.matrix @ v).reshape(*self.grid.shape, v.shape[1])
        return out[..., 0] if scalar else out


def scatter_to_grid(points, values, grid: GridSpec) -> np.ndarray:
    """Interpolate values at scattered points onto a grid (linear inside the hull, nearest outside).

    Parameters
    ----------
    points : array-like, shape (N, d)
    values : array-like, shape (N,) or (N, c)
    grid : GridSpec

    Returns
    -------
    ndarray, shape (*grid.shape) or (*grid.shape, c)

    See Also
    --------
    GridScatter : keeps the map to reuse it for other fields on the same points.
    """
    return GridScatter(points, grid)(values)


def build_scatters(points, decomposition: Decomposition, grids: Sequence[GridSpec]) -> List[GridScatter]:
    """One :class:`GridScatter` per subdomain, from its member points (halo included) to its grid."""
    x = as_points(points, dims=(decomposition.dim,))
    if len(x) != len(decomposition.labels):
        raise DataError(f"decomposition was made for {len(decomposition.labels)} points, got {len(x)}")
    if len(grids) != decomposition.num_subdomains:
        raise DataError(f"got {len(grids)} grids for {decomposition.num_subdomains} subdomains")
    return [GridScatter(x[m], g) for m, g in zip(decomposition.members, grids)]


def scatter_to_subdomains(
    points,
    values,
    decomposition: Decomposition,
    grids: Sequence[GridSpec],
    *,
    scatters: Optional[Sequence[GridScatter]] = None,
    stack: bool = False,
) -> Union[List[np.ndarray], np.ndarray]:
    """Interpolate a field at the points onto every subdomain's grid.

    Parameters
    ----------
    points : array-like, shape (N, d)
    values : array-like, shape (N, c)
    decomposition : Decomposition
    grids : sequence of GridSpec, length S
    scatters : sequence of GridScatter, optional
        From :func:`build_scatters` (reuse them for many fields on the same points).
    stack : bool
        Return one array (S, *shape, c); needs grids of one shape.

    Returns
    -------
    list of ndarray (*grids[s].shape, c), or ndarray (S, *shape, c) with ``stack``
    """
    if scatters is None:
        scatters = build_scatters(points, decomposition, grids)
    v, _ = _values(values, len(decomposition.labels))
    out = [sc(v[m]) for sc, m in zip(scatters, decomposition.members)]
    if stack:
        if len({g.shape for g in grids}) > 1:
            raise DataError("stack=True needs grids of one shape (make them with common_shape=True)")
        return np.stack(out)
    return out


# ----------------------------------------------------------------------------- grid -> points


def sample_weights(grid: GridSpec, points) -> Tuple[np.ndarray, np.ndarray]:
    """Multilinear interpolation weights of points in a grid.

    Parameters
    ----------
    grid : GridSpec
    points : array-like, shape (N, d)
        Clipped to the grid box.

    Returns
    -------
    index : ndarray, shape (N, 2**d), int64
        Flat (C-order) node index of each corner of the cell holding each point.
    weight : ndarray, shape (N, 2**d), float64
        Corner weights (non-negative, summing to 1 per point).
    """
    x = as_points(points, dims=(grid.dim,))
    d = grid.dim
    shape = np.asarray(grid.shape)
    u = (x - grid.lower) / (grid.upper - grid.lower) * (shape - 1)
    np.clip(u, 0.0, shape - 1, out=u)
    i0 = np.minimum(np.floor(u).astype(np.int64), shape - 2)
    t = u - i0
    strides = np.cumprod(np.concatenate([shape[1:], [1]])[::-1])[::-1]
    base = i0 @ strides
    corners = list(product((0, 1), repeat=d))
    index = np.empty((len(x), len(corners)), dtype=np.int64)
    weight = np.ones((len(x), len(corners)))
    for c, corner in enumerate(corners):  # 2**d corners, vectorised over points
        index[:, c] = base + int(np.dot(corner, strides))
        for j, bit in enumerate(corner):
            weight[:, c] *= t[:, j] if bit else 1.0 - t[:, j]
    return index, weight


def _grid_values(grid_values, grid: GridSpec) -> Tuple[np.ndarray, bool]:
    arr = np.asarray(grid_values, dtype=np.float64)
    if arr.shape == grid.shape:
        return arr.reshape(grid.size, 1), True
    if arr.ndim == grid.dim + 1 and arr.shape[:-1] == grid.shape:
        return arr.reshape(grid.size, arr.shape[-1]), False
    raise DataError(f"grid values must have shape {grid.shape} or {grid.shape + ('c',)}, got {tuple(arr.shape)}")


def sample_grid(grid_values, grid: GridSpec, points) -> np.ndarray:
    """Multilinear interpolation of grid values at points (clipped to the grid box).

    Parameters
    ----------
    grid_values : array-like, shape (*grid.shape) or (*grid.shape, c)
    grid : GridSpec
    points : array-like, shape (N, d)

    Returns
    -------
    ndarray, shape (N,) or (N, c)
    """
    flat, scalar = _grid_values(grid_values, grid)
    x = as_points(points, dims=(grid.dim,))
    out = np.empty((len(x), flat.shape[1]))
    for start in range(0, len(x), _CHUNK):
        index, weight = sample_weights(grid, x[start : start + _CHUNK])
        out[start : start + _CHUNK] = np.einsum("nk,nkc->nc", weight, flat[index])
    return out[:, 0] if scalar else out


def sample_grid_torch(grid_values, grid: GridSpec, points, weights: Optional[Tuple[np.ndarray, np.ndarray]] = None):
    """Differentiable (w.r.t. grid values) multilinear sampling of grid values at points.

    Parameters
    ----------
    grid_values : torch.Tensor, shape (*batch, *grid.shape, c)
    grid : GridSpec
    points : array-like or torch.Tensor, shape (N, d)
        Clipped to the grid box; no gradient flows to them.
    weights : tuple, optional
        ``sample_weights(grid, points)``, precomputed.

    Returns
    -------
    torch.Tensor, shape (*batch, N, c), dtype and device of ``grid_values``
    """
    d = grid.dim
    if grid_values.dim() < d + 1 or tuple(grid_values.shape[-d - 1 : -1]) != grid.shape:
        raise DataError(f"grid values must have shape (*batch, {', '.join(map(str, grid.shape))}, c), "
                        f"got {tuple(grid_values.shape)}")
    index, weight = sample_weights(grid, points) if weights is None else weights
    return _gather_torch(grid_values.reshape(*grid_values.shape[: -d - 1], grid.size, grid_values.shape[-1]),
                         index, weight)


def _gather_torch(flat, index: np.ndarray, weight: np.ndarray):
    """``sum_k weight[n, k] * flat[..., index[n, k], :]`` -> (*batch, N, c)."""
    import torch

    idx = torch.as_tensor(index, device=flat.device)
    w = torch.as_tensor(weight, dtype=flat.dtype, device=flat.device)
    gathered = flat[..., idx.reshape(-1), :].reshape(*flat.shape[:-2], *idx.shape, flat.shape[-1])
    return (gathered * w[..., None]).sum(dim=-2)


def subdomain_sample_weights(
    grids: Sequence[GridSpec], labels, points
) -> Tuple[np.ndarray, np.ndarray]:
    """Weights sampling every point from its owner's grid, for grids stacked as (S, *shape).

    Parameters
    ----------
    grids : sequence of GridSpec, length S, all of one shape
    labels : array-like, shape (N,)
        Owner subdomain of each point (``Decomposition.labels`` or ``locate``).
    points : array-like, shape (N, d)

    Returns
    -------
    index : ndarray, shape (N, 2**d), int64
        Flat node index into the stacked grids viewed as (S * G).
    weight : ndarray, shape (N, 2**d), float64
    """
    if len({g.shape for g in grids}) != 1:
        raise DataError("stacked sampling needs grids of one shape (make them with common_shape=True)")
    x = as_points(points, dims=(grids[0].dim,))
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(x):
        raise DataError(f"got {len(labels)} labels for {len(x)} points")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(grids)):
        raise DataError(f"labels must lie in [0, {len(grids)}), got {labels.min()} .. {labels.max()}")
    size = grids[0].size
    index = np.empty((len(x), 2 ** x.shape[1]), dtype=np.int64)
    weight = np.empty(index.shape)
    for s, g in enumerate(grids):
        rows = np.flatnonzero(labels == s)
        if len(rows):
            i, w = sample_weights(g, x[rows])
            index[rows], weight[rows] = i + s * size, w
    return index, weight


def sample_subdomains(grid_values, grids: Sequence[GridSpec], labels, points) -> np.ndarray:
    """Sample every point from its owner subdomain's grid.

    Parameters
    ----------
    grid_values : sequence of arrays (*grids[s].shape, c), or array (S, *shape, c)
    grids : sequence of GridSpec, length S
    labels : array-like, shape (N,)
    points : array-like, shape (N, d)

    Returns
    -------
    ndarray, shape (N, c)
    """
    x = as_points(points, dims=(grids[0].dim,))
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(x) or len(grid_values) != len(grids):
        raise DataError(f"got {len(labels)} labels, {len(x)} points, {len(grid_values)} grid arrays, {len(grids)} grids")
    out = None
    for s, (values, g) in enumerate(zip(grid_values, grids)):
        rows = np.flatnonzero(labels == s)
        if len(rows) == 0:  # a subdomain may own none of the points (labels from ``locate``)
            continue
        part = sample_grid(values, g, x[rows])
        part = part[:, None] if part.ndim == 1 else part
        if out is None:
            out = np.zeros((len(x), part.shape[1]))
        out[rows] = part
    return out


def sample_subdomains_torch(
    grid_values, grids: Sequence[GridSpec], labels, points, weights: Optional[Tuple[np.ndarray, np.ndarray]] = None
):
    """Differentiable sampling of stacked subdomain grids at the points (each from its owner).

    Parameters
    ----------
    grid_values : torch.Tensor, shape (*batch, S, *shape, c)
    grids : sequence of GridSpec, length S, all of one shape
    labels : array-like, shape (N,)
    points : array-like, shape (N, d)
    weights : tuple, optional
        ``subdomain_sample_weights(grids, labels, points)``, precomputed.

    Returns
    -------
    torch.Tensor, shape (*batch, N, c)
    """
    d = grids[0].dim
    shape = grids[0].shape
    if grid_values.dim() < d + 2 or tuple(grid_values.shape[-d - 2 : -1]) != (len(grids), *shape):
        raise DataError(f"grid values must have shape (*batch, {len(grids)}, {', '.join(map(str, shape))}, c), "
                        f"got {tuple(grid_values.shape)}")
    index, weight = subdomain_sample_weights(grids, labels, points) if weights is None else weights
    flat = grid_values.reshape(*grid_values.shape[: -d - 2], len(grids) * grids[0].size, grid_values.shape[-1])
    return _gather_torch(flat, index, weight)
