"""A coarse graph of a fine mesh graph, at a chosen node spacing, and the interpolation back.

A model trained on meshes of element size ``h`` answers on a mesh ten times finer
with ten times more message-passing hops across the same part, and costs a
hundred (2D) or a thousand (3D) times more. :func:`coarsen_graph` builds a graph
of the same part at spacing ``h``, made of fine nodes, so that the model can be
evaluated where it was trained and its prediction interpolated to every fine node:

1. *seeds* (the coarse nodes): farthest-point samples of the fine boundary nodes
   (as many as keep the boundary spacing at ``h``) and of the interior nodes (as
   many as keep the interior density at ``h``), dropping interior seeds closer
   than ``h / 2`` to a boundary seed;
2. *clusters*: every fine node joins its nearest seed along the fine edges
   (multi-source Dijkstra with edge lengths), so a cluster never reaches across
   a hole or slot that the fine mesh does not bridge;
3. *coarse edges*: two seeds are joined when a fine edge joins their clusters;
   edge features are recomputed from the seed positions
   (:func:`graphops.graph.edges.edge_features`), node attributes (``pos``, ``x``,
   boundary features) are the seeds' own;
4. *prolongation*: a sparse ``(N, M)`` matrix that maps coarse values to fine
   nodes by a weighted least-squares linear fit over the node's cluster seed and
   the seeds adjacent to it (exact for fields linear in space; weights
   ``1 / (r^2 + (1e-3 h)^2)``, so a seed keeps its own value).

Entry points: :func:`coarsen_graph` (graph -> :class:`Coarsening`) and
:meth:`Coarsening.restrict` / :meth:`Coarsening.prolong` for node fields.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from torch_geometric.data import Data

from ..errors import ConfigError, DataError
from ..sampling import farthest_point_sampling
from .edges import edge_features, median_edge_length

#: Node attributes copied from the seeds into the coarse graph (those the fine graph has).
SEED_FIELDS = ("pos", "x", "boundary_mask", "boundary_normal", "boundary_distance", "boundary_direction")
#: Coarsen only when the target spacing is at least this many fine element sizes (else the graph is kept).
MIN_RATIO = 1.5
#: Fine nodes fitted at once by the prolongation (bounds its memory).
PROLONG_CHUNK = 200_000


@dataclass
class Coarsening:
    """A coarse graph of a fine graph and the maps between their node fields.

    Attributes
    ----------
    graph : Data
        The coarse graph: ``M`` nodes (the seeds), ``edge_index`` (2, Ec),
        ``edge_attr`` (Ec, d + 1), and the seeds' node attributes.
    seeds : ndarray, shape (M,), int64
        Fine node of each coarse node.
    cluster : ndarray, shape (N,), int64
        Coarse node each fine node belongs to.
    prolongation : scipy.sparse.csr_matrix, shape (N, M)
        Coarse node values -> fine node values (rows sum to 1).
    spacing : float
        The target spacing asked for.
    fine_spacing : float
        Median edge length of the fine graph.
    """

    graph: Data
    seeds: np.ndarray
    cluster: np.ndarray
    prolongation: sparse.csr_matrix
    spacing: float
    fine_spacing: float

    @property
    def num_fine(self) -> int:
        return int(self.prolongation.shape[0])

    def restrict(self, values: np.ndarray) -> np.ndarray:
        """A fine node field at the coarse nodes (the seeds' values): ``(N, ...) -> (M, ...)``."""
        return np.asarray(values)[self.seeds]

    def prolong(self, values: np.ndarray) -> np.ndarray:
        """Coarse node values interpolated to every fine node.

        Parameters
        ----------
        values : ndarray, shape (M, ...)

        Returns
        -------
        ndarray, shape (N, ...), the input's dtype
        """
        values = np.asarray(values)
        m = self.prolongation.shape[1]
        if values.ndim == 0 or values.shape[0] != m:
            raise DataError(f"prolong: got values of shape {values.shape}, the coarse graph has {m} nodes")
        flat = values.reshape(m, -1).astype(np.float64)
        return (self.prolongation @ flat).reshape((self.num_fine,) + values.shape[1:]).astype(values.dtype, copy=False)


def _seed_count(count: int, ratio: float, dim: int) -> int:
    return int(min(count, max(1, math.ceil(count / ratio**dim)))) if count else 0


def choose_seeds(pos: np.ndarray, boundary: np.ndarray, ratio: float, spacing: float) -> np.ndarray:
    """Coarse nodes: FPS of the boundary and of the interior at ``ratio`` times fewer nodes per length.

    Parameters
    ----------
    pos : ndarray, shape (N, d)
    boundary : ndarray, shape (N,), bool
    ratio : float
        Target spacing over the fine spacing.
    spacing : float
        Target spacing (interior seeds nearer than half of it to a boundary seed are dropped).

    Returns
    -------
    ndarray, shape (M,), int64
        Sorted fine node indices.
    """
    dim = pos.shape[1]
    bnd = np.flatnonzero(boundary)
    inner = np.flatnonzero(~boundary)
    parts = []
    if len(bnd):
        picked = bnd[farthest_point_sampling(pos[bnd], _seed_count(len(bnd), ratio, dim - 1))]
        parts.append(picked)
    if len(inner):
        picked = inner[farthest_point_sampling(pos[inner], _seed_count(len(inner), ratio, dim))]
        if parts:
            near, _ = cKDTree(pos[parts[0]]).query(pos[picked], k=1)
            picked = picked[near >= 0.5 * spacing]
        parts.append(picked)
    return np.unique(np.concatenate(parts))


def _clusters(pos: np.ndarray, edges: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Nearest seed of every fine node along the fine edges (index into ``seeds``)."""
    n = len(pos)
    length = np.linalg.norm(pos[edges[0]] - pos[edges[1]], axis=1)
    length = np.maximum(length, 1e-12 * max(float(length.max(initial=0.0)), 1e-300))  # coincident nodes stay edges
    adjacency = sparse.csr_matrix((length, (edges[0], edges[1])), shape=(n, n))
    _, _, source = dijkstra(adjacency, directed=False, indices=seeds, min_only=True, return_predecessors=True)
    if (source < 0).any():
        lost = int(np.flatnonzero(source < 0)[0])
        raise DataError(f"coarsening: {int((source < 0).sum())} node(s) (e.g. node {lost}) are in a part of the mesh "
                        "without a coarse node (disconnected pieces smaller than the coarse spacing)")
    index = np.full(n, -1, dtype=np.int64)
    index[seeds] = np.arange(len(seeds))
    return index[source]


def _coarse_edges(edges: np.ndarray, cluster: np.ndarray, m: int) -> np.ndarray:
    a, b = cluster[edges[0]], cluster[edges[1]]
    keep = a != b
    a, b = np.concatenate([a[keep], b[keep]]), np.concatenate([b[keep], a[keep]])
    key = np.unique(a * m + b)
    return np.stack([key // m, key % m]).astype(np.int64)


def prolongation_matrix(pos: np.ndarray, seed_pos: np.ndarray, cluster: np.ndarray, coarse_edges: np.ndarray,
                        spacing: float) -> sparse.csr_matrix:
    """Weighted linear least-squares interpolation from seeds to fine nodes.

    Fine node ``i`` in cluster ``a`` is fitted from seed ``a`` and the seeds
    adjacent to ``a``: ``u(x) ~ alpha + beta . (x - x_i)`` minimising
    ``sum_j w_j (u_j - alpha - beta . (c_j - x_i))^2`` with
    ``w_j = 1 / (|c_j - x_i|^2 + (1e-3 spacing)^2)``; the row holds the weights
    giving ``alpha``. A tiny ridge on ``beta`` keeps degenerate stencils (fewer
    than ``d + 1`` seeds in general position) finite; they fall back towards the
    weighted mean.

    Parameters
    ----------
    pos : ndarray, shape (N, d)
    seed_pos : ndarray, shape (M, d)
    cluster : ndarray, shape (N,)
    coarse_edges : ndarray, shape (2, Ec)
        Directed both ways.
    spacing : float

    Returns
    -------
    scipy.sparse.csr_matrix, shape (N, M); rows sum to 1
    """
    n, dim = pos.shape
    m = len(seed_pos)
    # stencil of each seed: itself and its coarse neighbours, padded with -1
    order = np.argsort(coarse_edges[0], kind="stable")
    src, dst = coarse_edges[0][order], coarse_edges[1][order]
    degree = np.bincount(src, minlength=m)
    width = int(degree.max(initial=0)) + 1
    stencil = np.full((m, width), -1, dtype=np.int64)
    stencil[:, 0] = np.arange(m)
    start = np.concatenate([[0], np.cumsum(degree)[:-1]])
    slot = np.arange(len(src)) - np.repeat(start, degree) + 1
    stencil[src, slot] = dst
    eps2 = (1e-3 * spacing) ** 2
    rows, cols, vals = [], [], []
    for lo in range(0, n, PROLONG_CHUNK):
        idx = np.arange(lo, min(n, lo + PROLONG_CHUNK))
        s = stencil[cluster[idx]]  # (n, K)
        valid = s >= 0
        rel = seed_pos[np.where(valid, s, 0)] - pos[idx, None, :]  # (n, K, d)
        w = np.where(valid, 1.0 / (np.einsum("nkd,nkd->nk", rel, rel) + eps2), 0.0)
        basis = np.concatenate([np.ones(rel.shape[:2] + (1,)), rel / spacing], axis=2)  # (n, K, d + 1)
        normal = np.einsum("nk,nka,nkb->nab", w, basis, basis)
        ridge = 1e-8 * w.sum(axis=1)
        normal[:, np.arange(1, dim + 1), np.arange(1, dim + 1)] += ridge[:, None]
        e1 = np.zeros((len(idx), dim + 1))
        e1[:, 0] = 1.0
        coef = np.linalg.solve(normal, e1[..., None])[..., 0]  # (n, d + 1): (N^-1)[0, :] (symmetric)
        weights = w * np.einsum("na,nka->nk", coef, basis)  # (n, K)
        r, k = np.nonzero(valid)
        rows.append(idx[r])
        cols.append(s[r, k])
        vals.append(weights[r, k])
    matrix = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, m))
    matrix.sum_duplicates()
    return matrix


def coarsen_graph(graph: Data, spacing: float) -> Optional[Coarsening]:
    """A coarse graph of ``graph`` at node spacing ``spacing``, or None when the graph is not finer than that.

    Parameters
    ----------
    graph : Data
        A mesh graph (:func:`graphops.graph.mesh_to_graph`): ``pos`` (N, d),
        ``edge_index`` (2, E), ``boundary_mask`` (N,) and the other boundary features.
    spacing : float
        Target node spacing, in the graph's units (e.g. the training element size).

    Returns
    -------
    Coarsening or None
        None when ``spacing`` is less than :data:`MIN_RATIO` fine element sizes.

    Raises
    ------
    ConfigError
        A spacing that is not a positive finite number.
    DataError
        A graph without edges or boundary mask, or with pieces no seed reaches.
    """
    if isinstance(spacing, bool) or not isinstance(spacing, (int, float)) or not math.isfinite(spacing) or spacing <= 0:
        raise ConfigError(f"coarsening spacing must be a positive number, got {spacing!r}")
    if getattr(graph, "boundary_mask", None) is None:
        raise DataError("coarsening needs the graph's boundary_mask (build it with mesh_to_graph(boundary=True))")
    fine = median_edge_length(graph)
    ratio = spacing / fine
    if ratio < MIN_RATIO:
        return None
    pos = graph.pos.detach().cpu().double().numpy()
    edges = graph.edge_index.cpu().numpy()
    boundary = graph.boundary_mask.cpu().numpy().astype(bool)
    seeds = choose_seeds(pos, boundary, ratio, spacing)
    cluster = _clusters(pos, edges, seeds)
    coarse_edges = _coarse_edges(edges, cluster, len(seeds))
    seed_pos = pos[seeds]
    dtype = graph.pos.dtype
    coarse = Data(
        edge_index=torch.from_numpy(coarse_edges),
        edge_attr=torch.from_numpy(edge_features(seed_pos, coarse_edges)).to(dtype),
        num_nodes=len(seeds),
    )
    index = torch.from_numpy(seeds)
    for name in SEED_FIELDS:
        value = getattr(graph, name, None)
        if isinstance(value, torch.Tensor):
            coarse[name] = value[index.to(value.device)]
    prolongation = prolongation_matrix(pos, seed_pos, cluster, coarse_edges, spacing)
    return Coarsening(coarse, seeds, cluster, prolongation, float(spacing), fine)
