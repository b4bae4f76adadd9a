"""GIOROM (Viswanath et al., 2024): reduced-order Lagrangian dynamics on a sparse
particle graph, evaluated at any query point by a neural-operator decoder; and its
dense GNS-style baseline.

Time stepper (shared by both models, :class:`ParticleStepper`)
    Input: the last ``history + 1`` positions of ``N`` particles, ``(C+1, N, d)``.
    Velocities are per-frame displacements ``v_k = x_k - x_{k-1}`` (GNS units:
    the frame is the time unit, ``dt = 1``), normalised by the training
    statistics stored as buffers (``vel_mean``, ``vel_std``). Node features:
    the ``C`` normalised velocities, the distance to each of the ``2 d`` walls of
    the bounds box divided by the connectivity ``radius`` and clipped to
    ``[-1, 1]``, and a learned material embedding. Edges: a radius graph over
    the current positions (KD-tree, rebuilt every step), with edge features
    ``(x_src - x_dst) / radius`` and its norm. An interaction network
    (encode-process-decode, ``layers`` residual message-passing blocks, see
    :class:`graphops.models.layers.EncodeProcessDecode`) predicts the normalised
    acceleration; semi-implicit Euler advances ``v' = v + a``, ``x' = x + v'``.
    Positions are clamped to the bounds box.

``"giorom"`` (:class:`GIOROM`)
    Farthest point sampling (:func:`graphops.sampling.farthest_point_sampling`)
    picks ``num_samples`` particles once, in the reference (first) frame; the
    stepper advances only them. :class:`KernelIntegralDecoder` maps their
    displacements ``x_j^t - x_j^0`` to the displacement at any query point ``q``
    given in the reference configuration.

``"gns"`` (:class:`GNS`)
    The same stepper on every particle (no sampling, no decoder).

Both return from :meth:`ParticleStepper.rollout` a dict with ``positions``
``(steps + 1, P, d)`` of all particles (frame 0 is the last input frame).
"""
from __future__ import annotations

import warnings
from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, DataError
from .layers import AGGREGATIONS, EncodeProcessDecode, check_choice, check_positive, mlp
from .registry import register_model

__all__ = ["ParticleStepper", "GIOROM", "GNS", "KernelIntegralDecoder", "wall_features"]


def _positive_number(model: str, **values: float) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
            raise ConfigError(f"model {model!r}: {key} must be a positive number, got {value!r}")


def wall_features(pos: Tensor, bounds: Tensor, radius: float) -> Tensor:
    """Distances to the walls of the bounds box, in units of ``radius``, clipped to [-1, 1].

    Parameters
    ----------
    pos : Tensor, shape (N, d)
    bounds : Tensor, shape (2, d) or (2, N, d)
        Lower and upper corner (per particle when 3-D).
    radius : float

    Returns
    -------
    Tensor, shape (N, 2 d)
        ``[(x - lower) / r, (upper - x) / r]`` clipped; negative outside the box.
    """
    lower = (pos - bounds[0]) / radius
    upper = (bounds[1] - pos) / radius
    return torch.cat([lower, upper], dim=1).clamp(-1.0, 1.0)


def _as_float(x, name: str) -> Tensor:
    t = x if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float32))
    if not t.is_floating_point():
        t = t.to(torch.float32)
    return t.to(torch.float32)


class ParticleStepper(nn.Module):
    """Interaction-network time stepper on a radius graph (see the module docstring).

    Parameters
    ----------
    dim : int
        2 or 3.
    history : int
        Number ``C`` of past velocities in the node features (needs ``C + 1`` frames).
    radius : float
        Connectivity radius, in position units.
    hidden, layers, mlp_layers : int
        Latent width, message-passing blocks, Linear layers per MLP.
    aggr : {"sum", "mean"}
        Message aggregation.
    num_materials : int
        Material ids accepted (``0 .. num_materials - 1``; the MPM ids are
        jelly 0, fluid 1, sand 2).
    material_dim : int
        Width of the material embedding.
    max_neighbours : int or None
        Keep only the nearest this many neighbours of each particle.
    """

    task = "particles"  # what it learns: see graphops.tasks

    model_label = "particle stepper"

    def __init__(self, dim: int, history: int, radius: float, hidden: int, layers: int, mlp_layers: int,
                 aggr: str, num_materials: int, material_dim: int, max_neighbours: Optional[int]) -> None:
        super().__init__()
        name = self.model_label
        check_choice(name, "dim", dim, (2, 3))
        check_positive(name, history=history, hidden=hidden, layers=layers, mlp_layers=mlp_layers,
                       num_materials=num_materials, material_dim=material_dim)
        check_choice(name, "aggr", aggr, AGGREGATIONS)
        _positive_number(name, radius=radius)
        if max_neighbours is not None:
            check_positive(name, max_neighbours=max_neighbours)
        self.dim, self.history, self.radius = dim, history, float(radius)
        self.num_materials, self.max_neighbours = num_materials, max_neighbours
        self.material_embedding = nn.Embedding(num_materials, material_dim)
        node_in = history * dim + 2 * dim + material_dim
        self.net = EncodeProcessDecode(node_in, dim + 1, hidden, layers, dim, aggr=aggr, mlp_layers=mlp_layers)
        # start from the mean acceleration (gravity): the last layer predicts 0 in normalised units
        nn.init.zeros_(self.net.decoder[-1].weight)
        nn.init.zeros_(self.net.decoder[-1].bias)
        # normaliser statistics and domain defaults, set by the trainer; saved in the state dict
        self.register_buffer("vel_mean", torch.zeros(dim))
        self.register_buffer("vel_std", torch.ones(dim))
        self.register_buffer("acc_mean", torch.zeros(dim))
        self.register_buffer("acc_std", torch.ones(dim))
        self.register_buffer("domain", torch.stack([torch.zeros(dim), torch.ones(dim)]))
        self.register_buffer("frame_dt", torch.tensor(1.0, dtype=torch.float64))
        self.register_buffer("default_material", torch.tensor(0, dtype=torch.long))

    # ------------------------------------------------------------ statistics
    def set_statistics(self, vel_mean, vel_std, acc_mean, acc_std) -> None:
        """Store the velocity / acceleration normalisation (per-axis mean and std, shape (d,))."""
        for name, value in (("vel_mean", vel_mean), ("vel_std", vel_std), ("acc_mean", acc_mean),
                            ("acc_std", acc_std)):
            t = _as_float(value, name).reshape(-1)
            if t.numel() != self.dim or not torch.isfinite(t).all():
                raise DataError(f"{name} must be {self.dim} finite numbers, got {t.tolist()}")
            if name.endswith("std") and (t <= 0).any():
                raise DataError(f"{name} must be positive, got {t.tolist()}")
            getattr(self, name).copy_(t)

    def set_domain(self, bounds, frame_dt: float, default_material: int = 0) -> None:
        """Store the default wall box (2, d), the time between frames (s) and the default material id."""
        b = _as_float(bounds, "bounds").reshape(2, self.dim)
        self.domain.copy_(b)
        self.frame_dt.fill_(float(frame_dt))
        self.default_material.fill_(int(default_material))

    # ------------------------------------------------------------ inputs
    def check_inputs(self, history, material=None, bounds=None) -> Tuple[Tensor, Tensor, Tensor]:
        """Validate and convert a particle history.

        Parameters
        ----------
        history : array-like, shape (T, N, d) with T >= C + 1 (the last C + 1 frames are used)
            or (N, d) (a single frame: particles at rest).
        material : array-like of int, shape (N,), optional
            Default: :attr:`default_material` for all.
        bounds : array-like, shape (2, d), optional
            Wall box; default: :attr:`domain`.

        Returns
        -------
        history : Tensor, shape (C + 1, N, d), float32
        material : Tensor, shape (N,), int64
        bounds : Tensor, shape (2, d), float32

        Raises
        ------
        DataError
            Empty cloud, wrong dimension, NaN/inf, bad material ids or bounds.
        """
        h = _as_float(history, "history")
        if h.dim() == 2:
            h = h.unsqueeze(0)
        if h.dim() != 3:
            raise DataError(f"particle positions must have shape (frames, N, {self.dim}), got {tuple(h.shape)}")
        if h.shape[1] == 0:
            raise DataError("the particle cloud is empty")
        if h.shape[2] != self.dim:
            raise DataError(f"the model was trained on {self.dim}D particles, got {h.shape[2]}D positions")
        if not torch.isfinite(h).all():
            raise DataError(f"particle positions contain {int((~torch.isfinite(h)).sum())} NaN/inf value(s)")
        need = self.history + 1
        if h.shape[0] < need:  # pad at rest: repeat the first frame
            h = torch.cat([h[:1].expand(need - h.shape[0], -1, -1), h], dim=0)
        h = h[-need:].contiguous()
        n = h.shape[1]
        if material is None:
            mat = torch.full((n,), int(self.default_material), dtype=torch.long)
        else:
            mat = torch.as_tensor(np.asarray(material)).reshape(-1)
            if mat.is_floating_point():
                if not torch.all(mat == mat.round()):
                    raise DataError("material ids must be integers")
            mat = mat.to(torch.long)
            if mat.numel() != n:
                raise DataError(f"material has {mat.numel()} entries for {n} particles")
            if n and (mat.min() < 0 or mat.max() >= self.num_materials):
                raise DataError(f"material ids must be in 0..{self.num_materials - 1}, got {mat.min()}..{mat.max()}")
        b = self.domain.detach().cpu().clone() if bounds is None else _as_float(bounds, "bounds")
        if tuple(b.shape) != (2, self.dim) or not torch.isfinite(b).all() or not (b[1] > b[0]).all():
            raise DataError(f"bounds must be a finite (2, {self.dim}) array [lower, upper] with lower < upper, "
                            f"got {b.tolist()}")
        dev = self.vel_mean.device
        return h.to(dev), mat.to(dev), b.to(dev)

    # ------------------------------------------------------------ graph and features
    def build_edges(self, pos: Tensor) -> Tensor:
        """Radius graph over ``pos`` (N, d) -> (2, E) ``[source, target]`` (KD-tree)."""
        from ..graph import radius_graph

        if pos.shape[0] < 2:
            return torch.zeros(2, 0, dtype=torch.long, device=pos.device)
        return radius_graph(pos.detach(), self.radius, max_num_neighbors=self.max_neighbours).to(pos.device)

    def normalised_velocities(self, history: Tensor) -> Tensor:
        """(C + 1, N, d) positions -> (N, C d) normalised velocities, oldest first."""
        vel = (history[1:] - history[:-1] - self.vel_mean) / self.vel_std
        return vel.permute(1, 0, 2).reshape(history.shape[1], -1)

    def forward(self, history: Tensor, material: Tensor, bounds: Tensor, edge_index: Optional[Tensor] = None,
                velocities: Optional[Tensor] = None) -> Tensor:
        """Normalised acceleration of every particle.

        Parameters
        ----------
        history : Tensor, shape (C + 1, N, d)
            Checked positions (see :meth:`check_inputs`).
        material : Tensor, shape (N,), int64
        bounds : Tensor, shape (2, d) or (2, N, d)
        edge_index : Tensor, shape (2, E), optional
            Precomputed graph (training batches); default: radius graph of ``history[-1]``.
        velocities : Tensor, shape (N, C d), optional
            Precomputed normalised velocities (training with noise).

        Returns
        -------
        Tensor, shape (N, d)
            ``(a - acc_mean) / acc_std``.
        """
        pos = history[-1]
        if edge_index is None:
            edge_index = self.build_edges(pos)
        vel = self.normalised_velocities(history) if velocities is None else velocities
        x = torch.cat([vel, wall_features(pos, bounds, self.radius), self.material_embedding(material)], dim=1)
        rel = (pos[edge_index[0]] - pos[edge_index[1]]) / self.radius
        edge_attr = torch.cat([rel, rel.norm(dim=1, keepdim=True)], dim=1)
        return self.net(x, edge_attr, edge_index)

    def step(self, history: Tensor, material: Tensor, bounds: Tensor) -> Tensor:
        """Next positions (N, d) by semi-implicit Euler from checked inputs (no gradient)."""
        with torch.inference_mode():  # lighter than no_grad: no version counters or view tracking
            acc = self(history, material, bounds) * self.acc_std + self.acc_mean
            vel = history[-1] - history[-2] + acc
            nxt = history[-1] + vel
            return torch.minimum(torch.maximum(nxt, bounds[0]), bounds[1])

    def advance(self, history: Tensor, material: Tensor, bounds: Tensor, steps: int,
                progress: bool = False) -> Tensor:
        """Roll the stepper forward ``steps`` frames.

        Parameters
        ----------
        history : Tensor, shape (C + 1, N, d)
        material : Tensor, shape (N,)
        bounds : Tensor, shape (2, d)
        steps : int
        progress : bool
            Show a tqdm bar.

        Returns
        -------
        Tensor, shape (steps, N, d)
        """
        from tqdm.auto import tqdm

        frames = []
        window = history
        for _ in tqdm(range(steps), desc=f"rollout {self.config['name'] if hasattr(self, 'config') else ''}",
                      unit="step", disable=not progress, leave=False):
            nxt = self.step(window, material, bounds)
            frames.append(nxt)
            window = torch.cat([window[1:], nxt.unsqueeze(0)], dim=0)
        if not frames:
            return history.new_zeros((0,) + tuple(history.shape[1:]))
        return torch.stack(frames)

    # ------------------------------------------------------------ rollout
    def select_particles(self, reference: Tensor) -> Tensor:
        """Indices of the particles the stepper advances (all, for the dense baseline)."""
        return torch.arange(reference.shape[0], device=reference.device)

    def rollout(self, history, steps: int, material=None, bounds=None, query_points=None,
                progress: bool = False) -> Dict[str, Tensor]:
        """Predict ``steps`` frames after the given history.

        Parameters
        ----------
        history : array-like, shape (T, P, d) or (P, d)
            Past positions of all particles, oldest first; the last frame is the
            start (and reference) configuration.
        steps : int
            Frames to predict (>= 0).
        material : array-like of int, shape (P,), optional
        bounds : array-like, shape (2, d), optional
        query_points : array-like, shape (Q, d), optional
            Points in the start configuration where the displacement is wanted
            (GIOROM only).
        progress : bool

        Returns
        -------
        dict of Tensor
            ``positions`` (steps + 1, P, d) all particles (frame 0 = start),
            ``sparse_index`` (M,) the advanced particles, ``sparse_positions``
            (steps + 1, M, d); with ``query_points``: ``query_displacement`` and
            ``query_positions``, both (steps + 1, Q, d).
        """
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
            raise ConfigError(f"steps must be a non-negative integer, got {steps!r}")
        hist, mat, b = self.check_inputs(history, material, bounds)
        start = hist[-1]
        outside = ((start < b[0] - 1e-6) | (start > b[1] + 1e-6)).any(dim=1)
        if outside.any():
            first = start[outside.nonzero()[0, 0]].tolist()
            raise DataError(f"{int(outside.sum())} particle(s) lie outside the wall box {b.tolist()} "
                            f"(first at {[round(v, 6) for v in first]})")
        idx = self.select_particles(start)
        sparse = torch.cat([hist[-1:, idx], self.advance(hist[:, idx], mat[idx], b, int(steps), progress)], dim=0)
        return self.dense_output(start, mat, idx, sparse, query_points)

    def dense_output(self, start: Tensor, material: Tensor, idx: Tensor, sparse: Tensor,
                     query_points=None) -> Dict[str, Tensor]:
        """The rollout dict from the advanced particles' frames.

        Parameters
        ----------
        start : Tensor, shape (P, d)
            All particles at the start (reference) frame.
        material : Tensor, shape (P,)
        idx : Tensor, shape (M,)
            Advanced particles (:meth:`select_particles`).
        sparse : Tensor, shape (F, M, d)
            Their positions, frame 0 = start.
        query_points : array-like, shape (Q, d), optional

        Returns
        -------
        dict of Tensor (see :meth:`rollout`)
        """
        if query_points is not None:
            raise ConfigError(f"model {self.config['name']!r} predicts its own particles only; "
                              "query points need a model with a decoder (giorom)")
        return {"positions": sparse, "sparse_index": idx, "sparse_positions": sparse}


class KernelIntegralDecoder(nn.Module):
    """Displacement at query points as a learned kernel integral over nearby sparse particles.

    ``u(q) = sum_j w_j(q) u_j`` over the sparse particles ``j`` within ``radius``
    of ``q`` in the reference configuration, with ``u_j = x_j^t - x_j^0``. The
    weights come from a positive learned kernel
    ``kappa_j = softplus(MLP([s_j, |s_j|, e(material_j)])) (1 - |s_j|^2)^2``,
    ``s_j = (x_j^0 - q) / h``, made first-order consistent as in reproducing-kernel
    interpolation: ``w_j = kappa_j p_j^T c`` with ``p_j = [1, s_j]`` and
    ``(sum_j kappa_j p_j p_j^T + ridge) c = e_1``. The weights sum to one and
    reproduce any linear field ``u = A x + b`` exactly whatever the learned
    kernel (the tiny ridge on the slope block only matters where the
    neighbours are degenerate, e.g. collinear); with ``correction=False`` they
    are the normalised average ``kappa_j / sum kappa``.

    A query with fewer than ``k = max(neighbours, d + 1)`` particles within
    ``radius`` (none, or too few for a well-posed linear fit) uses its ``k``
    nearest particles instead (``h`` = 1.25 x the farthest of them). Weights
    depend on the reference configuration only, so :meth:`plan` computes them
    once as a sparse (Q, M) matrix and every frame is a sparse product.

    Parameters
    ----------
    dim : int
    radius : float
    hidden, layers : int
        Kernel MLP width and Linear layers.
    num_materials, material_dim : int
    neighbours : int
        Fewest particles a query's kernel integral uses (nearest-neighbour
        fallback below that; at least d + 1).
    chunk : int
        Queries per block (bounds memory: O(chunk x neighbours)).
    correction : bool
        First-order (linear-reproducing) correction.
    """

    ridge = 1e-6

    def __init__(self, dim: int, radius: float, hidden: int, layers: int, num_materials: int, material_dim: int,
                 neighbours: int, chunk: int, correction: bool = True) -> None:
        super().__init__()
        self.dim, self.radius, self.neighbours, self.chunk = dim, float(radius), neighbours, chunk
        self.correction = correction
        self.material_embedding = nn.Embedding(num_materials, material_dim)
        self.kernel = mlp(dim + 1 + material_dim, hidden, 1, layers, layer_norm=False)

    # ------------------------------------------------------------ checks
    def check_queries(self, reference: Tensor, queries) -> Tensor:
        """Convert and validate queries (Q, d) against the reference particles (M, d).

        Raises
        ------
        DataError
            Wrong shape or dimension, NaN, or points outside the particles'
            bounding box inflated by the decoder radius.
        """
        q = _as_float(queries, "query points").to(reference.device)
        if q.dim() != 2 or q.shape[1] != self.dim:
            raise DataError(f"query points must have shape (Q, {self.dim}) for this {self.dim}D model, "
                            f"got {tuple(q.shape)}")
        if not torch.isfinite(q).all():
            raise DataError("query points contain NaN or infinite coordinates")
        lo = reference.min(dim=0).values - self.radius
        hi = reference.max(dim=0).values + self.radius
        bad = ((q < lo) | (q > hi)).any(dim=1)
        if bad.any():
            first = q[bad.nonzero()[0, 0]].tolist()
            raise DataError(
                f"{int(bad.sum())} query point(s) lie outside the particles' bounding box "
                f"{[round(v, 6) for v in lo.tolist()]}..{[round(v, 6) for v in hi.tolist()]} (inflated by the "
                f"decoder radius {self.radius:g}); first at {[round(v, 6) for v in first]}"
            )
        return q

    # ------------------------------------------------------------ neighbours and weights
    def neighbours_of(self, reference: Tensor, queries: Tensor) -> Tuple[Tensor, Tensor]:
        """Sparse particles near each query (KD-tree).

        Returns
        -------
        edge_index : Tensor, shape (2, E)
            ``[particle, query]`` pairs.
        scale : Tensor, shape (Q,)
            Support radius ``h`` of each query.
        """
        from scipy.spatial import cKDTree

        from ..graph import radius_edges_between

        ref = reference.detach().cpu().numpy().astype(np.float64)
        q = queries.detach().cpu().numpy().astype(np.float64)
        edges = radius_edges_between(ref, q, self.radius).numpy()
        scale = np.full(len(q), self.radius)
        # too few particles within the radius for a well-posed linear fit: use the k nearest instead
        k = min(max(self.neighbours, self.dim + 1), len(ref))
        lonely = np.flatnonzero(np.bincount(edges[1], minlength=len(q)) < k)
        if len(lonely):
            edges = edges[:, ~np.isin(edges[1], lonely)]
            dist, idx = cKDTree(ref).query(q[lonely], k=k)
            dist, idx = dist.reshape(len(lonely), k), idx.reshape(len(lonely), k)
            scale[lonely] = 1.25 * np.maximum(dist.max(axis=1), 1e-12)
            extra = np.stack([idx.ravel(), np.repeat(lonely, k)])
            edges = np.concatenate([edges, extra], axis=1)
            edges = edges[:, np.argsort(edges[1], kind="stable")]
        dev = reference.device
        return torch.from_numpy(edges.astype(np.int64)).to(dev), torch.from_numpy(scale).to(dev, torch.float32)

    def weights(self, reference: Tensor, material: Tensor, queries: Tensor, edge_index: Tensor,
                scale: Tensor) -> Tensor:
        """Interpolation weight of every (particle, query) edge; differentiable in the kernel.

        Returns
        -------
        Tensor, shape (E,), float64
            Weights of each query sum to 1.
        """
        src, tgt = edge_index[0], edge_index[1]
        nq = queries.shape[0]
        s = (reference[src] - queries[tgt]) / scale[tgt].unsqueeze(1)
        dist = s.norm(dim=1, keepdim=True)
        feats = torch.cat([s, dist, self.material_embedding(material[src])], dim=1)
        taper = (1.0 - dist.squeeze(1) ** 2).clamp(min=0.0) ** 2 + 1e-3
        kappa = (F.softplus(self.kernel(feats).squeeze(1)) + 1e-4).double() * taper.double()
        total = torch.zeros(nq, dtype=torch.float64, device=s.device).index_add_(0, tgt, kappa)
        if not self.correction:
            return kappa / total[tgt]
        p = torch.cat([torch.ones_like(dist), s], dim=1).double()  # (E, d + 1)
        moments = torch.zeros(nq, self.dim + 1, self.dim + 1, dtype=torch.float64, device=s.device)
        moments.index_add_(0, tgt, kappa[:, None, None] * p[:, :, None] * p[:, None, :])
        ridge = torch.ones(self.dim + 1, dtype=torch.float64, device=s.device)
        ridge[0] = 0.0
        moments = moments + self.ridge * total[:, None, None] * torch.diag(ridge)
        rhs = torch.zeros(nq, self.dim + 1, dtype=torch.float64, device=s.device)
        rhs[:, 0] = 1.0
        coeff = torch.linalg.solve(moments, rhs)  # (Q, d + 1)
        return kappa * (p * coeff[tgt]).sum(dim=1)

    def plan(self, reference: Tensor, material: Tensor, queries, check: bool = True) -> Tensor:
        """The (Q, M) sparse interpolation matrix, built in chunks of queries (no gradient).

        Parameters
        ----------
        reference : Tensor, shape (M, d)
            Sparse particles in the reference configuration.
        material : Tensor, shape (M,)
        queries : array-like, shape (Q, d)
        check : bool
            Validate the queries (:meth:`check_queries`).

        Returns
        -------
        Tensor
            Sparse CSR float32 matrix of shape (Q, M).
        """
        q = self.check_queries(reference, queries) if check else queries
        rows, cols, vals = [], [], []
        with torch.no_grad():
            for start in range(0, q.shape[0], self.chunk):
                block = q[start:start + self.chunk]
                edges, scale = self.neighbours_of(reference, block)
                w = self.weights(reference, material, block, edges, scale)
                rows.append(edges[1] + start)
                cols.append(edges[0])
                vals.append(w.float())
        # chunks come in query order and each chunk's edges are sorted by query: build CSR directly
        row = torch.cat(rows) if rows else torch.zeros(0, dtype=torch.long)
        col = torch.cat(cols) if cols else torch.zeros(0, dtype=torch.long)
        val = torch.cat(vals) if vals else torch.zeros(0)
        crow = torch.zeros(q.shape[0] + 1, dtype=torch.long, device=q.device)
        crow[1:] = torch.cumsum(torch.bincount(row, minlength=q.shape[0]), 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
            return torch.sparse_csr_tensor(crow, col, val, (q.shape[0], reference.shape[0]),
                                           check_invariants=False)

    @staticmethod
    def apply(plan: Tensor, displacement: Tensor) -> Tensor:
        """Interpolate sparse displacements with a :meth:`plan` matrix.

        Parameters
        ----------
        plan : sparse Tensor, shape (Q, M)
        displacement : Tensor, shape (M, d) or (F, M, d)

        Returns
        -------
        Tensor, shape (Q, d) or (F, Q, d)
        """
        if displacement.dim() == 2:
            return plan @ displacement.float()
        f, m, d = displacement.shape
        flat = displacement.float().permute(1, 0, 2).reshape(m, f * d)
        return (plan @ flat).reshape(-1, f, d).permute(1, 0, 2)

    def forward(self, reference: Tensor, material: Tensor, displacement: Tensor, queries: Tensor,
                edge_index: Optional[Tensor] = None, scale: Optional[Tensor] = None) -> Tensor:
        """Differentiable decoding (training): displacement (M, d) or (F, M, d) -> (Q, d) or (F, Q, d).

        ``edge_index`` / ``scale`` from :meth:`neighbours_of` can be cached by the caller.
        """
        if edge_index is None or scale is None:
            edge_index, scale = self.neighbours_of(reference, queries)
        w = self.weights(reference, material, queries, edge_index, scale).to(displacement.dtype)
        src, tgt = edge_index[0], edge_index[1]
        if displacement.dim() == 2:
            out = displacement.new_zeros(queries.shape[0], self.dim)
            return out.index_add_(0, tgt, w[:, None] * displacement[src])
        out = displacement.new_zeros(displacement.shape[0], queries.shape[0], self.dim)
        return out.index_add_(1, tgt, w[None, :, None] * displacement[:, src])


@register_model("gns")
class GNS(ParticleStepper):
    """Dense GNS-style baseline: the GIOROM stepper on every particle (see the module docstring)."""

    model_label = "gns"

    def __init__(self, dim: int = 2, history: int = 5, radius: float = 0.03, hidden: int = 64, layers: int = 5,
                 mlp_layers: int = 2, aggr: str = "sum", num_materials: int = 3, material_dim: int = 8,
                 max_neighbours: Optional[int] = None) -> None:
        super().__init__(dim, history, radius, hidden, layers, mlp_layers, aggr, num_materials, material_dim,
                         max_neighbours)


@register_model("giorom")
class GIOROM(ParticleStepper):
    """Sparse reduced-order stepper + kernel-integral decoder (see the module docstring).

    Parameters
    ----------
    dim, history, radius, hidden, layers, mlp_layers, aggr, num_materials, material_dim, max_neighbours
        The stepper's (:class:`ParticleStepper`); ``radius`` should match the
        sparse particles' spacing (about 2.5-3 spacings).
    num_samples : int
        Particles kept by farthest point sampling (all when the cloud is smaller).
    fps_backend : {"auto", "fpsample", "numpy"}
    decoder_radius : float
        Support radius of the decoder's kernel integral.
    decoder_hidden, decoder_layers : int
        Kernel MLP width and Linear layers.
    decoder_neighbours : int
        Fewest particles per query in the decoder (k-nearest fallback below that).
    decoder_chunk : int
        Queries per decoding block.
    decoder_correction : bool
        Linear-reproducing weights (see :class:`KernelIntegralDecoder`).
    """

    model_label = "giorom"

    def __init__(self, dim: int = 2, history: int = 5, radius: float = 0.08, hidden: int = 64, layers: int = 5,
                 mlp_layers: int = 2, aggr: str = "sum", num_materials: int = 3, material_dim: int = 8,
                 max_neighbours: Optional[int] = None, num_samples: int = 1024, fps_backend: str = "auto",
                 decoder_radius: float = 0.08, decoder_hidden: int = 32, decoder_layers: int = 2,
                 decoder_neighbours: int = 8, decoder_chunk: int = 16384, decoder_correction: bool = True) -> None:
        super().__init__(dim, history, radius, hidden, layers, mlp_layers, aggr, num_materials, material_dim,
                         max_neighbours)
        check_positive("giorom", num_samples=num_samples, decoder_hidden=decoder_hidden,
                       decoder_layers=decoder_layers, decoder_neighbours=decoder_neighbours,
                       decoder_chunk=decoder_chunk)
        _positive_number("giorom", decoder_radius=decoder_radius)
        from ..sampling import fps_backend as resolve

        resolve(fps_backend)  # ConfigError on a bad name
        self.num_samples, self.fps_backend = num_samples, fps_backend
        self.decoder = KernelIntegralDecoder(dim, decoder_radius, decoder_hidden, decoder_layers, num_materials,
                                             material_dim, decoder_neighbours, decoder_chunk,
                                             bool(decoder_correction))

    def select_particles(self, reference: Tensor) -> Tensor:
        """Farthest point sampling of ``min(num_samples, P)`` particles, starting at particle 0."""
        from ..sampling import farthest_point_sampling

        m = min(self.num_samples, reference.shape[0])
        idx = farthest_point_sampling(reference.detach().cpu().numpy(), m, start=0, backend=self.fps_backend)
        return torch.from_numpy(np.sort(idx)).to(reference.device)

    def dense_output(self, start: Tensor, material: Tensor, idx: Tensor, sparse: Tensor,
                     query_points=None) -> Dict[str, Tensor]:
        """Decode the sparse frames at every particle's start position (and at ``query_points``)."""
        reference, mat = sparse[0], material[idx]
        disp = sparse - reference
        out = {"sparse_index": idx, "sparse_positions": sparse}
        dense_plan = self.decoder.plan(reference, mat, start, check=False)
        dense = start + self.decoder.apply(dense_plan, disp)
        dense[:, idx] = sparse  # the advanced particles keep their own trajectories
        out["positions"] = dense
        if query_points is not None:
            q = self.decoder.check_queries(reference, query_points)
            u = self.decoder.apply(self.decoder.plan(reference, mat, q, check=False), disp)
            out["query_displacement"] = u
            out["query_positions"] = q + u
        return out
