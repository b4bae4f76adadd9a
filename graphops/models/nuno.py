"""NUNO (Liu et al., ICML 2023): a Fourier neural operator on K-D tree subdomain grids of a point cloud.

Per sample (geometry only, computed once and cached, see :class:`GridPlan`):

1. split the point cloud with :func:`graphops.decomposition.kdtree_decompose`
   (``n_subdomains`` boxes where the cloud is least uniform, optional halo);
2. lay a uniform grid over every (halo) box, all of one shape (``grid_shape``,
   or the per-axis geometric mean of the boxes' own shapes for ``oversampling``
   nodes per point);
3. keep the sparse map points -> grid nodes (Delaunay-linear inside the hull,
   nearest point outside) and the multilinear weights grid -> points.

Per forward pass: the node fields named in ``in_fields`` are interpolated onto
the grids, the geometric channels below are added, the grids go through one
FNO (``neuralop.models.FNO``) and the result is sampled back at the original
points (differentiably), giving ``(N, out_channels)``.

Grid channels, in order: the interpolated ``in_fields``; the node's global
coordinates (d); the subdomain's (halo) box, lower and upper corner (2 d);
the distance from the node to the nearest point of the cloud divided by the
mean point spacing ``(volume of the bounding box / N) ** (1 / d)`` (1; large in
holes, where the linear interpolation alone cannot tell material from void).

``stacking`` decides how subdomains meet the FNO: ``"batch"`` runs them as
separate grids of one batch (subdomains see each other only through their box
channels); ``"channels"`` concatenates the ``n_subdomains`` grids of a sample
along the channel axis, as in the NUNO paper, so every layer mixes all
subdomains (samples with fewer subdomains are padded with zero grids).

``decomposition`` decides where the boxes come from: ``"sample"`` decomposes
every cloud on its own; ``"shared"`` decomposes the union of the training
clouds once (:meth:`NUNO.fit_decomposition`, boxes saved with the weights), so
that with ``stacking="channels"`` channel group k is the same region in every
sample even though the clouds differ from sample to sample.

Plans are cached in memory by a hash of the coordinates (and of the shared
boxes), so the decomposition and the interpolation maps of a training sample
are built once, in the first epoch, not every epoch.

``fno_global`` (:class:`GlobalFNO`) is the baseline of the paper: the same FNO
and channels on one grid over the whole bounding box.
"""
from __future__ import annotations

import hashlib
import math
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import ConfigError, DataError
from .layers import check_choice, check_positive
from .registry import register_model

STACKINGS = ("batch", "channels")
DECOMPOSITIONS = ("sample", "shared")

IntOrSeq = Union[int, Sequence[int], None]


# ----------------------------------------------------------------------------- geometry plan


@dataclass(eq=False)
class GridPlan:
    """Everything about one point cloud that does not depend on the model weights.

    Attributes
    ----------
    grids : list of GridSpec, length S
        One grid per subdomain, all of one shape.
    labels : ndarray, shape (N,)
        Owner subdomain of each point.
    scatter : scipy.sparse.csr_matrix, shape (S * G, N)
        Point values -> node values of the stacked grids (G nodes per grid).
    static : ndarray, shape (S, *shape, 3 d + 1), float32
        Coordinates, box corners and hole distance of every grid node.
    inside : ndarray, shape (S * G,), bool
        Nodes interpolated linearly (inside their subdomain's hull).
    sample_index, sample_weight : ndarray, shape (N, 2 ** d)
        :func:`graphops.decomposition.subdomain_sample_weights` of the points.
    requested, made : int
        Subdomains asked for and made.
    """

    grids: list
    labels: np.ndarray
    scatter: object
    static: np.ndarray
    inside: np.ndarray
    sample_index: np.ndarray
    sample_weight: np.ndarray
    requested: int
    made: int
    _tensors: Dict[str, Tuple[Tensor, Tensor, Tensor, Tensor]] = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> Tuple[int, ...]:
        """Grid shape (nodes per axis)."""
        return tuple(self.grids[0].shape)

    def tensors(self, device: torch.device) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(scatter, static, sample_index, sample_weight)`` as float32 / int64 tensors on ``device`` (memoised)."""
        key = str(device)
        if key not in self._tensors:
            coo = self.scatter.tocoo()
            idx = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
            mat = torch.sparse_coo_tensor(idx, torch.from_numpy(coo.data.astype(np.float32)), coo.shape,
                                          check_invariants=True).coalesce()
            self._tensors[key] = (
                mat.to(device),
                torch.from_numpy(self.static).to(device),
                torch.from_numpy(self.sample_index).to(device),
                torch.from_numpy(self.sample_weight.astype(np.float32)).to(device),
            )
        return self._tensors[key]


def build_plan(
    points,
    n_subdomains: int,
    *,
    grid_shape: IntOrSeq = None,
    oversampling: float = 1.0,
    overlap: float = 0.0,
    min_points: int = 8,
    seed: int = 0,
    boxes: Optional[np.ndarray] = None,
) -> GridPlan:
    """Decompose a point cloud and precompute its grid maps (:class:`GridPlan`).

    Parameters
    ----------
    points : array-like or Tensor, shape (N, d), d = 2 or 3
    n_subdomains : int
        Subdomains wanted (capped at ``N // min_points``; fewer may be made).
    grid_shape : int or sequence of d ints, optional
        Nodes per axis of every grid; default: the per-axis geometric mean of the
        boxes' own shapes for ``oversampling`` nodes per point.
    oversampling : float
        Grid nodes per point when ``grid_shape`` is not given.
    overlap : float
        Halo of each box as a fraction of its extent.
    min_points : int
        Points each subdomain keeps at least.
    seed : int
        Seed of the decomposition's sampling of large nodes.
    boxes : ndarray, shape (S, 2, 2, d), optional
        A decomposition shared by many clouds (:func:`shared_decomposition`):
        each subdomain's box and halo box. Given, the cloud is not decomposed:
        each point goes to the box holding it (the nearest box when outside all).

    Returns
    -------
    GridPlan
    """
    import scipy.sparse as sp
    from scipy.spatial import cKDTree

    from ..decomposition import DecompositionWarning, GridScatter, kdtree_decompose, make_grids, subdomain_sample_weights
    from ..decomposition.kdtree import as_points

    x = as_points(points)
    n, d = x.shape
    if boxes is None:
        wanted = max(1, min(int(n_subdomains), n // max(1, int(min_points))))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DecompositionWarning)
            dec = kdtree_decompose(x, wanted, overlap=overlap, min_points=min(min_points, n), seed=seed)
        labels, members, halo = dec.labels, dec.members, dec.halo_boxes
    else:
        boxes = np.asarray(boxes, dtype=np.float64)
        labels = assign_to_boxes(x, boxes[:, 0])
        halo = boxes[:, 1]
        members = [_members(x, h, d) for h in halo]
    shape = "mean" if grid_shape is None else _shape_tuple(grid_shape, d, "grid_shape")
    grids = make_grids(halo, [len(m) for m in members], oversampling, common_shape=shape)
    scatters = [GridScatter(x[m], g) for m, g in zip(members, grids)]
    size = grids[0].size
    rows, cols, vals = [], [], []
    for s, (sc, m) in enumerate(zip(scatters, members)):
        coo = sc.matrix.tocoo()
        rows.append(coo.row.astype(np.int64) + s * size)
        cols.append(m[coo.col])
        vals.append(coo.data)
    scatter = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(grids) * size, n)
    )
    ext = np.maximum(x.max(axis=0) - x.min(axis=0), 1e-12)
    spacing = float(np.prod(ext) / n) ** (1.0 / d)
    nodes = np.stack([g.nodes() for g in grids])  # (S, G, d)
    gap, _ = cKDTree(x).query(nodes.reshape(-1, d))
    box_channels = np.repeat(halo.reshape(len(grids), 1, 2 * d), size, axis=1)
    static = np.concatenate([nodes, box_channels, (gap / spacing).reshape(len(grids), size, 1)], axis=2)
    index, weight = subdomain_sample_weights(grids, labels, x)
    return GridPlan(
        grids=grids,
        labels=labels,
        scatter=scatter,
        static=np.ascontiguousarray(static.reshape(len(grids), *grids[0].shape, 3 * d + 1), dtype=np.float32),
        inside=np.concatenate([sc.inside for sc in scatters]),
        sample_index=index,
        sample_weight=weight,
        requested=int(n_subdomains),
        made=len(grids),
    )


def assign_to_boxes(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Index of the (first) closed box holding each point, or of the nearest box for points outside all.

    Parameters
    ----------
    points : ndarray, shape (N, d)
    boxes : ndarray, shape (S, 2, d)

    Returns
    -------
    ndarray, shape (N,), int64
    """
    out = np.empty(len(points), dtype=np.int64)
    for start in range(0, len(points), 1 << 16):  # (chunk, S, d) temporaries stay small
        p = points[start : start + (1 << 16), None, :]
        below = np.maximum(boxes[None, :, 0] - p, 0.0)
        above = np.maximum(p - boxes[None, :, 1], 0.0)
        out[start : start + len(p)] = np.argmin(((below + above) ** 2).sum(axis=2), axis=1)
    return out


def _members(x: np.ndarray, box: np.ndarray, d: int) -> np.ndarray:
    """Points inside a closed box; at least the d + 1 points nearest its centre (so a grid can be filled)."""
    inside = np.flatnonzero(((x >= box[0]) & (x <= box[1])).all(axis=1))
    if len(inside) > d:
        return inside
    dist = np.linalg.norm(x - 0.5 * (box[0] + box[1]), axis=1)
    return np.union1d(inside, np.argsort(dist)[: min(len(x), d + 1)])


def shared_decomposition(clouds, n_subdomains: int, overlap: float = 0.0, max_points: int = 200_000,
                         seed: int = 0) -> np.ndarray:
    """One K-D tree decomposition of the union of many point clouds (the same boxes for every sample).

    Parameters
    ----------
    clouds : iterable of array-like or Tensor, each (N_i, d)
    n_subdomains : int
    overlap : float
        Halo fraction.
    max_points : int
        The union is decomposed from a fixed-seed random subset of this many points.
    seed : int

    Returns
    -------
    ndarray, shape (S, 2, 2, d)
        Box and halo box of each subdomain (S <= n_subdomains).
    """
    from ..decomposition import DecompositionWarning, kdtree_decompose
    from ..decomposition.kdtree import as_points

    union = np.concatenate([as_points(c) for c in clouds])
    if len(union) > max_points:
        union = union[np.sort(np.random.default_rng(seed).choice(len(union), max_points, replace=False))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DecompositionWarning)
        dec = kdtree_decompose(union, n_subdomains, overlap=overlap, seed=seed)
    return np.stack([dec.boxes, dec.halo_boxes], axis=1)


def _shape_tuple(value, d: int, name: str) -> Tuple[int, ...]:
    """An int or d ints (>= 2) as a d-tuple; ConfigError otherwise."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be an integer or {d} integers, got {value!r}")
    if isinstance(value, (int, np.integer)):
        out = (int(value),) * d
    else:
        try:
            out = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be an integer or {d} integers, got {value!r}") from None
        if len(out) == 1:
            out = out * d
    if len(out) != d or min(out) < 2:
        raise ConfigError(f"{name} must be an integer >= 2 or {d} such integers, got {value!r}")
    return out


def geometry_key(pos: Tensor) -> str:
    """Hash of a point cloud's coordinates (the cache key of its :class:`GridPlan`)."""
    arr = pos.detach().to("cpu", torch.float32).contiguous().numpy()
    h = hashlib.blake2b(arr.tobytes(), digest_size=16)
    h.update(str(arr.shape).encode())
    return h.hexdigest()


# ----------------------------------------------------------------------------- the FNO


def build_fno(in_channels: int, out_channels: int, n_modes: Tuple[int, ...], hidden: int, layers: int,
              domain_padding: float) -> nn.Module:
    """neuraloperator's ``FNO`` without its own positional embedding (the grids carry coordinates).

    Imported here, not at module load: ``neuralop`` takes about a second to import.
    """
    from neuralop.models import FNO

    return FNO(
        n_modes=tuple(int(m) for m in n_modes),
        in_channels=in_channels,
        out_channels=out_channels,
        hidden_channels=hidden,
        n_layers=layers,
        positional_embedding=None,
        domain_padding=domain_padding if domain_padding > 0 else None,
    )


# ----------------------------------------------------------------------------- the model


class GridOperator(nn.Module):
    """Shared machinery of :class:`NUNO` and :class:`GlobalFNO` (not registered itself).

    It has no constructor arguments of its own: the subclasses pass theirs
    (``dim``, ``n_subdomains``, ``grid_shape``, ``oversampling``, ``overlap``,
    ``stacking``, ``n_modes``, ``hidden``, ``layers``, ``domain_padding``,
    ``in_fields``, ``in_channels``, ``out_channels``, ``cache_size``; see
    :class:`NUNO`) to its setup method.
    """

    task = "fields"  # what it learns: see graphops.tasks

    def _setup(
        self,
        name: str,
        dim: int,
        n_subdomains: int,
        grid_shape: IntOrSeq,
        oversampling: float,
        overlap: float,
        stacking: str,
        n_modes: IntOrSeq,
        hidden: int,
        layers: int,
        domain_padding: float,
        in_fields: Sequence[str],
        in_channels: Optional[int],
        out_channels: int,
        cache_size: int,
        decomposition: str = "sample",
    ) -> None:
        check_choice(name, "dim", dim, (2, 3))
        check_choice(name, "stacking", stacking, STACKINGS)
        check_choice(name, "decomposition", decomposition, DECOMPOSITIONS)
        check_positive(name, n_subdomains=n_subdomains, hidden=hidden, layers=layers, out_channels=out_channels,
                       cache_size=cache_size)
        for key, value, low in (("oversampling", oversampling, 0.0), ("overlap", overlap, -1e-300),
                                ("domain_padding", domain_padding, -1e-300)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= low:
                raise ConfigError(f"model {name!r}: {key} must be a finite number {'> 0' if low == 0 else '>= 0'}, "
                                  f"got {value!r}")
        if isinstance(in_fields, str) or not all(isinstance(f, str) for f in in_fields):
            raise ConfigError(f"model {name!r}: in_fields must be a list of node field names, got {in_fields!r}")
        self.model_label = name
        self.dim = dim
        self.n_subdomains = int(n_subdomains)
        self.grid_shape = None if grid_shape is None else _shape_tuple(grid_shape, dim, f"model {name!r}: grid_shape")
        self.oversampling = float(oversampling)
        self.overlap = float(overlap)
        self.stacking = stacking
        self.in_fields = tuple(in_fields)
        self.out_channels = int(out_channels)
        self.cache_size = int(cache_size)
        modes = _shape_tuple(n_modes, dim, f"model {name!r}: n_modes")
        if self.grid_shape is not None:  # more modes than nodes carry nothing
            modes = tuple(min(m, s) for m, s in zip(modes, self.grid_shape))
        self.n_modes = modes
        self.in_channels = len(self.in_fields) if in_channels is None else int(in_channels)
        if self.in_channels < 0:
            raise ConfigError(f"model {name!r}: in_channels must be >= 0, got {in_channels!r}")
        per_grid = self.in_channels + self.static_channels
        stack = self.n_subdomains if stacking == "channels" else 1
        self.fno = build_fno(per_grid * stack, self.out_channels * stack, self.n_modes, hidden, layers,
                             float(domain_padding))
        self._plans: "OrderedDict[str, GridPlan]" = OrderedDict()
        self.decomposition = decomposition
        if decomposition == "shared":  # boxes and halo boxes, NaN until fitted; saved with the weights
            self.register_buffer("shared_boxes", torch.full((self.n_subdomains, 2, 2, dim), float("nan"),
                                                            dtype=torch.float64))

    # -- channels -----------------------------------------------------------------

    @property
    def static_channels(self) -> int:
        """Geometric channels per grid node: coordinates, box corners, hole distance."""
        return 3 * self.dim + 1

    # -- plans --------------------------------------------------------------------

    @property
    def fitted(self) -> bool:
        """Whether the decomposition is known (always, unless ``decomposition="shared"`` before fitting)."""
        return self.decomposition != "shared" or bool(torch.isfinite(self.shared_boxes[0]).all())

    def fit_decomposition(self, clouds, max_points: int = 200_000) -> "GridOperator":
        """Decompose the union of training point clouds once (``decomposition="shared"``).

        Parameters
        ----------
        clouds : iterable of Data, Tensor or ndarray
            Training samples (their ``pos``) or point arrays (N_i, d).
        max_points : int
            The union is decomposed from a random subset of this many points.

        Returns
        -------
        self
        """
        if self.decomposition != "shared":
            raise ConfigError(f"model {self.model_label!r}: fit_decomposition needs decomposition: shared")
        pts = [getattr(c, "pos", c) for c in clouds]
        boxes = shared_decomposition(pts, self.n_subdomains, overlap=self.overlap, max_points=max_points)
        full = torch.full_like(self.shared_boxes, float("nan"))
        full[: len(boxes)] = torch.from_numpy(boxes).to(full)
        self.shared_boxes.copy_(full)
        self.clear_cache()
        return self

    def prepare(self, train_data) -> None:
        """Hook for trainers, before the first epoch: fit the shared decomposition on the training set.

        A no-op with ``decomposition="sample"`` or when already fitted (e.g. resumed).
        """
        if self.decomposition == "shared" and not self.fitted:
            self.fit_decomposition(train_data[i] for i in range(len(train_data)))

    def _shared_boxes(self) -> Optional[np.ndarray]:
        if self.decomposition != "shared":
            return None
        boxes = self.shared_boxes.detach().cpu().numpy()
        return boxes[np.isfinite(boxes).all(axis=(1, 2, 3))]

    def plan(self, pos: Tensor) -> GridPlan:
        """The cached :class:`GridPlan` of one point cloud (built on first sight)."""
        boxes = self._shared_boxes()
        key = geometry_key(pos) + ("" if boxes is None else hashlib.blake2b(boxes.tobytes(), digest_size=8).hexdigest())
        plan = self._plans.get(key)
        if plan is None:
            plan = build_plan(pos, self.n_subdomains, grid_shape=self.grid_shape, oversampling=self.oversampling,
                              overlap=self.overlap, boxes=boxes)
            self._plans[key] = plan
            while len(self._plans) > self.cache_size:
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(key)
        return plan

    def clear_cache(self) -> None:
        """Forget every cached :class:`GridPlan`."""
        self._plans.clear()

    def state_dict(self, *args, **kwargs):
        """The weights only.

        neuraloperator's models add a ``"_metadata"`` entry (their constructor
        arguments, functions included) to whatever state dict they are saved
        into; it is dropped so checkpoints hold tensors alone and load strictly.
        """
        state = super().state_dict(*args, **kwargs)
        state.pop("_metadata", None)
        return state

    def __getstate__(self):  # the cache is not part of the model (pickling, deepcopy)
        state = self.__dict__.copy()
        state["_plans"] = OrderedDict()
        return state

    # -- forward ------------------------------------------------------------------

    def _point_fields(self, data, n: int, like: Tensor) -> Tensor:
        cols = []
        for name in self.in_fields:
            value = getattr(data, name, None)
            if not isinstance(value, Tensor):
                raise DataError(f"model {self.model_label!r} reads node field {name!r} (in_fields), which the input lacks")
            if value.shape[0] != n:
                raise DataError(f"model {self.model_label!r}: field {name!r} has {value.shape[0]} rows for {n} nodes")
            cols.append(value.reshape(n, -1).to(dtype=like.dtype, device=like.device))
        return torch.cat(cols, dim=1) if cols else like.new_zeros((n, 0))

    def forward(self, data) -> Tensor:
        """Predict the field at every point.

        Parameters
        ----------
        data : Data or Batch
            ``pos`` (N, d) and the node fields named in ``in_fields``.

        Returns
        -------
        Tensor, shape (N, out_channels)
        """
        pos = getattr(data, "pos", None)
        if not isinstance(pos, Tensor) or pos.dim() != 2:
            raise DataError(f"model {self.model_label!r} needs pos of shape (N, {self.dim})")
        if pos.shape[1] != self.dim:
            raise DataError(f"model {self.model_label!r} was built for {self.dim}D points, got {pos.shape[1]}D")
        n = pos.shape[0]
        dtype = pos.dtype if pos.is_floating_point() else torch.float32
        feats = self._point_fields(data, n, pos.to(dtype))
        if feats.shape[1] != self.in_channels:
            raise DataError(f"model {self.model_label!r} was built for {self.in_channels} input channel(s) "
                            f"from {list(self.in_fields)}, got {feats.shape[1]} (set in_channels)")
        bounds = _graph_bounds(data, n)
        if not self.fitted:
            if not self.training:
                raise DataError(f"model {self.model_label!r} has no shared decomposition yet: call "
                                "fit_decomposition(training clouds) or train it first")
            warnings.warn("shared decomposition fitted on the first training batch; call fit_decomposition(train set) "
                          "before training to use the whole set", UserWarning, stacklevel=2)
            self.fit_decomposition([pos[a:b] for a, b in bounds])
        plans = [self.plan(pos[a:b]) for a, b in bounds]
        out = pos.new_empty((n, self.out_channels), dtype=dtype)
        groups: Dict[Tuple[int, ...], List[int]] = {}
        for i, p in enumerate(plans):
            groups.setdefault(p.shape, []).append(i)
        for members in groups.values():  # graphs whose grids share a shape go through the FNO together
            grids = []
            for i in members:
                a, b = bounds[i]
                scatter, static, _, _ = plans[i].tensors(pos.device)
                if feats.shape[1]:
                    on_grid = torch.sparse.mm(scatter if scatter.dtype == dtype else scatter.to(dtype), feats[a:b])
                else:
                    on_grid = feats.new_zeros((scatter.shape[0], 0))
                grids.append(torch.cat([on_grid.reshape(*static.shape[:-1], -1), static.to(dtype)], dim=-1))
            for i, values in zip(members, self._run_fno(grids)):
                a, b = bounds[i]
                out[a:b] = _sample_back(values, plans[i], pos.device)
        return out

    def _run_fno(self, grids: List[Tensor]) -> List[Tensor]:
        """FNO on each graph's stacked grids (S_i, *shape, C) -> (S_i, *shape, out_channels)."""
        d = self.dim
        if self.stacking == "batch":
            counts = [g.shape[0] for g in grids]
            x = torch.cat(grids, dim=0).movedim(-1, 1)  # (sum S, C, *shape)
            y = self.fno(x).movedim(1, -1)
            return list(torch.split(y, counts, dim=0))
        k = self.n_subdomains
        padded = []
        for g in grids:
            if g.shape[0] < k:
                g = torch.cat([g, g.new_zeros((k - g.shape[0], *g.shape[1:]))], dim=0)
            padded.append(g.movedim(-1, 1).reshape(1, -1, *g.shape[1 : 1 + d]))  # (1, k*C, *shape)
        y = self.fno(torch.cat(padded, dim=0))  # (B, k*out, *shape)
        y = y.reshape(len(grids), k, self.out_channels, *y.shape[2:]).movedim(2, -1)
        return [y[i, : g.shape[0]] for i, g in enumerate(grids)]


def _graph_bounds(data, n: int) -> List[Tuple[int, int]]:
    """Node ranges ``[(start, stop)]`` of the graphs of a Data (one) or Batch."""
    ptr = getattr(data, "ptr", None)
    if isinstance(ptr, Tensor) and ptr.numel() >= 2:
        p = ptr.tolist()
        return list(zip(p[:-1], p[1:]))
    batch = getattr(data, "batch", None)
    if isinstance(batch, Tensor) and batch.numel():
        counts = torch.bincount(batch).tolist()
        ends = np.cumsum(counts).tolist()
        return list(zip([0] + ends[:-1], ends))
    return [(0, n)]


def _sample_back(values: Tensor, plan: GridPlan, device: torch.device) -> Tensor:
    """Stacked grid values (S, *shape, c) at the plan's points (N, c), each from its owner's grid."""
    from ..decomposition import sample_subdomains_torch

    _, _, index, weight = plan.tensors(device)
    return sample_subdomains_torch(values, plan.grids, plan.labels, None, weights=(index, weight))


@register_model("nuno")
class NUNO(GridOperator):
    """Non-uniform neural operator: FNO on K-D tree subdomain grids, sampled back at the points.

    Parameters
    ----------
    dim : int
        Spatial dimension (2 or 3).
    n_subdomains : int
        Subdomains of the K-D tree split (fewer are made for small clouds).
    grid_shape : int or list of d ints, optional
        Nodes per axis of every subdomain grid. Default (null): per sample, the
        geometric mean of the boxes' own shapes for ``oversampling`` nodes per
        point (samples are then grouped by shape inside a batch).
    oversampling : float
        Grid nodes per point when ``grid_shape`` is null.
    overlap : float
        Halo of each subdomain box, as a fraction of its extent.
    stacking : {"batch", "channels"}
        Subdomains as separate grids of one FNO batch, or concatenated along
        channels (NUNO paper; fixed ``n_subdomains`` channel groups).
    decomposition : {"sample", "shared"}
        Decompose every point cloud on its own, or decompose the union of the
        training clouds once (:meth:`fit_decomposition`; the boxes are saved
        with the weights) so channel group k is the same box in every sample.
        Unfitted, the first training batch is used (with a warning).
    n_modes : int or list of d ints
        Fourier modes kept per axis (capped at ``grid_shape``).
    hidden : int
        FNO width.
    layers : int
        Fourier layers.
    domain_padding : float
        FNO domain padding (fraction of each axis; 0 = none).
    in_fields : list of str
        Node fields interpolated onto the grids as input channels (e.g.
        ``["boundary_distance"]``); geometric channels are always added.
    in_channels : int, optional
        Total width of the ``in_fields`` (default: one channel each).
    out_channels : int
    cache_size : int
        Point clouds whose :class:`GridPlan` is kept in memory.
    """

    def __init__(
        self,
        dim: int = 2,
        n_subdomains: int = 8,
        grid_shape: IntOrSeq = 16,
        oversampling: float = 1.0,
        overlap: float = 0.1,
        stacking: str = "channels",
        decomposition: str = "shared",
        n_modes: IntOrSeq = 8,
        hidden: int = 32,
        layers: int = 4,
        domain_padding: float = 0.0,
        in_fields: Sequence[str] = (),
        in_channels: Optional[int] = None,
        out_channels: int = 1,
        cache_size: int = 1024,
    ) -> None:
        super().__init__()
        self._setup("nuno", dim, n_subdomains, grid_shape, oversampling, overlap, stacking, n_modes, hidden, layers,
                    domain_padding, in_fields, in_channels, out_channels, cache_size, decomposition)


@register_model("fno_global")
class GlobalFNO(GridOperator):
    """The same FNO on one grid over the bounding box of each point cloud (the NUNO paper's baseline).

    Parameters
    ----------
    dim : int
    grid_shape : int or list of d ints, optional
        Nodes per axis (null: ``oversampling`` nodes per point, box aspect ratio).
    oversampling : float
    n_modes, hidden, layers, domain_padding, in_fields, in_channels, out_channels, cache_size
        As for :class:`NUNO`.
    """

    def __init__(
        self,
        dim: int = 2,
        grid_shape: IntOrSeq = 45,
        oversampling: float = 1.0,
        n_modes: IntOrSeq = 8,
        hidden: int = 32,
        layers: int = 4,
        domain_padding: float = 0.0,
        in_fields: Sequence[str] = (),
        in_channels: Optional[int] = None,
        out_channels: int = 1,
        cache_size: int = 1024,
    ) -> None:
        super().__init__()
        self._setup("fno_global", dim, 1, grid_shape, oversampling, 0.0, "batch", n_modes, hidden, layers,
                    domain_padding, in_fields, in_channels, out_channels, cache_size)
