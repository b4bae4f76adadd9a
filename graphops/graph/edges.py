"""Edges from cell connectivity, edge merging and edge features."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..boundary import row_keys
from ..errors import DataError
from ..cells import CELL_EDGES
from ..mesh import Mesh


def mesh_edges(mesh: Mesh, volume_only: bool = True) -> np.ndarray:
    """Undirected, deduplicated edges of the mesh cells, both directions, no self loops.

    Parameters
    ----------
    mesh : Mesh
    volume_only : bool
        Use only the volume cells (lower-dimensional cells add no new edges to
        a conforming mesh); False takes every cell block.

    Returns
    -------
    ndarray, shape (2, E), int64
        ``[source, target]`` pairs sorted by target then source.
    """
    blocks = mesh.volume_cells() if volume_only else dict(mesh.iter_cells())
    pairs = [conn[:, list(local)] for t, conn in blocks.items() if t in CELL_EDGES for local in CELL_EDGES[t]]
    if not pairs:
        return np.zeros((2, 0), dtype=np.int64)
    return merge_edges([np.concatenate(pairs).T], mesh.num_points)


def merge_edges(edge_sets: Sequence[np.ndarray], num_nodes: int) -> np.ndarray:
    """Union of edge sets made symmetric, without duplicates or self loops.

    Parameters
    ----------
    edge_sets : sequence of ndarray, shape (2, E_i)
    num_nodes : int

    Returns
    -------
    ndarray, shape (2, E), int64, sorted by target then source.
    """
    both = [np.asarray(e, dtype=np.int64) for e in edge_sets if np.asarray(e).size]
    if not both:
        return np.zeros((2, 0), dtype=np.int64)
    e = np.concatenate(both, axis=1)
    e = np.sort(e[:, e[0] != e[1]], axis=0)  # (min, max): one key per undirected edge
    keys = _sorted_unique(row_keys(e.T, num_nodes))
    lo, hi = keys // num_nodes, keys % num_nodes
    keys = np.concatenate([lo * num_nodes + hi, hi * num_nodes + lo])  # key = target * N + source
    keys.sort()
    return np.stack([keys % num_nodes, keys // num_nodes])


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an int64 array (a plain sort: faster than hashing here)."""
    keys = np.sort(keys)
    if len(keys) == 0:
        return keys
    keep = np.empty(len(keys), dtype=bool)
    keep[0] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    return keys[keep]


def edge_features(pos: np.ndarray, edge_index: np.ndarray) -> np.ndarray:
    """Relative position ``pos[source] - pos[target]`` and its length.

    Parameters
    ----------
    pos : ndarray, shape (N, d)
    edge_index : ndarray, shape (2, E)

    Returns
    -------
    ndarray, shape (E, d + 1)
    """
    rel = pos[edge_index[0]] - pos[edge_index[1]]
    return np.concatenate([rel, np.linalg.norm(rel, axis=1, keepdims=True)], axis=1)


def median_edge_length(graph) -> float:
    """Median length of a graph's edges: its element size.

    Parameters
    ----------
    graph : Data
        With ``pos`` (N, d) and ``edge_index`` (2, E).

    Raises
    ------
    DataError
        A graph without edges (its element size is undefined).
    """
    ei = graph.edge_index.detach().cpu().numpy()
    if ei.shape[1] == 0:
        raise DataError("the graph has no edges: its element size is undefined")
    pos = graph.pos.detach().cpu().double().numpy()
    return float(np.median(np.linalg.norm(pos[ei[0]] - pos[ei[1]], axis=1)))
