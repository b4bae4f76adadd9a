"""kNN and radius neighbour graphs through a KD-tree, chunked: memory grows with the edges."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from scipy.spatial import cKDTree

from ..errors import DataError


def _points(points, name: str = "points") -> np.ndarray:
    arr = points.detach().cpu().numpy() if isinstance(points, torch.Tensor) else np.asarray(points)
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] not in (1, 2, 3):
        raise DataError(f"{name} must have shape (N, 2) or (N, 3), got {tuple(arr.shape)}")
    if len(arr) == 0:
        raise DataError(f"{name} is empty")
    if not np.isfinite(arr).all():
        raise DataError(f"{name} contain NaN or infinite coordinates")
    with np.errstate(over="ignore", invalid="ignore"):
        span_sq = float(np.sum(np.square(arr.max(axis=0) - arr.min(axis=0))))
    if not np.isfinite(span_sq):  # the KD-tree's squared distances would overflow (wrong or missing neighbours)
        raise DataError(f"{name} span more than 1e150 units: distances between them overflow; rescale the coordinates")
    return arr


def knn_graph(points, k: int, loop: bool = False, chunk: int = 100_000) -> torch.Tensor:
    """Edges from each point's ``k`` nearest neighbours to the point.

    Parameters
    ----------
    points : array-like, shape (N, d)
    k : int
        Neighbours per point (fewer when the cloud has fewer points).
    loop : bool
        Include each point as its own neighbour.
    chunk : int
        Query points per KD-tree call.

    Returns
    -------
    LongTensor, shape (2, N * k')
        ``[neighbour, point]`` pairs (PyG source-to-target flow).
    """
    pts = _points(points)
    if k < 1:
        raise DataError(f"k must be at least 1, got {k}")
    tree = cKDTree(pts)
    kk = min(k + (0 if loop else 1), len(pts))
    sources, targets = [], []
    for start in range(0, len(pts), chunk):
        block = pts[start : start + chunk]
        _, idx = tree.query(block, k=kk)
        idx = idx.reshape(len(block), kk)
        tgt = np.repeat(np.arange(start, start + len(block)), kk).reshape(len(block), kk)
        if not loop:
            keep = idx != tgt
            # drop the self match, or the farthest neighbour when duplicates hid it
            extra = keep.sum(1) > kk - 1
            keep[extra, -1] = False
            idx, tgt = idx[keep], tgt[keep]
        sources.append(idx.ravel())
        targets.append(tgt.ravel())
    return torch.from_numpy(np.stack([np.concatenate(sources), np.concatenate(targets)]).astype(np.int64))


def radius_edges_between(
    sources, targets, r: float, max_num_neighbors: Optional[int] = None, chunk: int = 50_000
) -> torch.Tensor:
    """Edges from every source point within distance ``r`` of each target point.

    Parameters
    ----------
    sources : array-like, shape (S, d)
    targets : array-like, shape (T, d)
    r : float
    max_num_neighbors : int, optional
        Keep only the nearest this many sources per target.
    chunk : int
        Target points per KD-tree call (bounds memory).

    Returns
    -------
    LongTensor, shape (2, E)
        ``[source index, target index]`` pairs, sorted by target.
    """
    src = _points(sources, "sources")
    tgt = _points(targets, "targets")
    if not r > 0:
        raise DataError(f"radius must be positive, got {r}")
    if src.shape[1] != tgt.shape[1]:
        raise DataError(f"sources are {src.shape[1]}D but targets are {tgt.shape[1]}D")
    src_tree = cKDTree(src)
    out_s, out_t = [], []
    for start in range(0, len(tgt), chunk):
        block_tree = cKDTree(tgt[start : start + chunk])
        pairs = block_tree.sparse_distance_matrix(src_tree, r, output_type="ndarray")  # zeros included
        t_idx, s_idx, dist = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64), pairs["v"]
        order = np.lexsort((dist, s_idx, t_idx) if max_num_neighbors is None else (s_idx, dist, t_idx))
        t_idx, s_idx = t_idx[order], s_idx[order]
        if max_num_neighbors is not None:
            counts = np.bincount(t_idx, minlength=block_tree.n)
            rank = np.arange(len(t_idx)) - np.repeat(np.cumsum(counts) - counts, counts)
            keep = rank < max_num_neighbors
            t_idx, s_idx = t_idx[keep], s_idx[keep]
        out_s.append(s_idx)
        out_t.append(t_idx + start)
    return torch.from_numpy(np.stack([np.concatenate(out_s), np.concatenate(out_t)]))


def radius_graph(
    points, r: float, loop: bool = False, max_num_neighbors: Optional[int] = None, chunk: int = 50_000
) -> torch.Tensor:
    """Edges between all pairs of points closer than ``r`` (both directions).

    Parameters
    ----------
    points : array-like, shape (N, d)
    r : float
    loop : bool
        Keep self loops.
    max_num_neighbors : int, optional
        Keep only the nearest this many neighbours per point.

    Returns
    -------
    LongTensor, shape (2, E)
        ``[neighbour, point]`` pairs, sorted by point.
    """
    pts = _points(points)
    extra = 0 if loop or max_num_neighbors is None else 1
    e = radius_edges_between(pts, pts, r, None if max_num_neighbors is None else max_num_neighbors + extra, chunk)
    if not loop:
        e = e[:, e[0] != e[1]]
        if max_num_neighbors is not None:  # duplicate points can hide the self match: cap again
            tgt = e[1].numpy()
            counts = np.bincount(tgt, minlength=len(pts))
            rank = np.arange(len(tgt)) - np.repeat(np.cumsum(counts) - counts, counts)
            e = e[:, torch.from_numpy(rank < max_num_neighbors)]
    return e
