"""NUNO K-D tree domain decomposition: split a point cloud where it is least uniform.

The algorithm follows the NUNO paper (Liu et al., ICML 2023):

1. Every live node ``D`` (a set of points) has the priority ``|D| * KL(D || U)``,
   the Kullback-Leibler divergence of its points' histogram from the uniform
   distribution over the node's bounding box.
2. The node with the largest priority is split along the longest axis of its
   bounding box, at the candidate position that minimises the size-weighted KL
   of the two children, ``(|L| KL(L) + |R| KL(R)) / |D|`` (each child measured in
   its own bounding box).
3. This repeats until there are ``n_subdomains`` leaves, or no leaf can be split
   (``max_depth`` reached, fewer than ``2 * min_points`` points, no candidate leaving
   ``min_points`` on both sides).

The cut of a chosen candidate is moved to the middle of the empty gap between the
two children's points (same partition), so the leaf boxes tile the root box
(the bounding box of the cloud) with boundaries away from the points.

KL estimate: a histogram with ``bins`` per axis over the bounding box,
``KL = sum_b p_b log(p_b * B)`` over the non-empty bins, minus its sampling
noise for a uniform cloud and clipped at zero. ``2 n KL`` of n uniform points
(the G statistic) is about chi-square with ``k = occupied bins - 1`` degrees of
freedom and mean ``k q``, ``q = 1 + (k + 1) / (6 n)`` (Williams' correction of
the Miller-Madow bias ``k / (2 n)``), so ``(k q + 3 sqrt(2 k)) / (2 n)``, the
bias plus three standard deviations, is subtracted. Without it a uniform cloud
scores about ``B / (2 n)`` and its splits follow the noise; with it near-uniform
nodes and children score 0, and such ties go to the larger node and to the most
balanced cut.
Candidate splits of nodes with more than ``sample_size`` points are scored on a
fixed-seed random sample of the node.
"""
from __future__ import annotations

import heapq
import math
import warnings
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

from ..errors import DataError

#: Target number of points per histogram bin when ``bins`` is not given.
POINTS_PER_BIN = 8
#: Upper bound on the number of histogram bins (all axes together) when ``bins`` is not given.
MAX_TOTAL_BINS = 32768


class DecompositionWarning(UserWarning):
    """The decomposition made fewer subdomains than requested."""


# ----------------------------------------------------------------------------- input checks


def as_points(points, name: str = "points", dims: Tuple[int, ...] = (2, 3)) -> np.ndarray:
    """Check and convert a point cloud to a float64 array of shape (N, d).

    Parameters
    ----------
    points : array-like or torch.Tensor, shape (N, d)
    name : str
        How the array is called in error messages.
    dims : tuple of int
        Accepted values of ``d``.

    Returns
    -------
    ndarray, shape (N, d), float64

    Raises
    ------
    DataError
        Wrong number of dimensions or columns, empty, non-numeric, NaN or infinite entries.
    """
    if hasattr(points, "detach"):  # torch.Tensor without importing torch here
        points = points.detach().cpu().numpy()
    arr = np.asarray(points)
    allowed = " or ".join(f"(N, {d})" for d in dims)
    if arr.ndim != 2 or arr.shape[1] not in dims:
        raise DataError(f"{name} must have shape {allowed}, got shape {tuple(arr.shape)}")
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if len(arr) == 0:
        raise DataError(f"{name} is empty")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise DataError(
            f"{name} has {int(bad.sum())} row(s) with NaN or infinite coordinates "
            f"(first at row {int(np.flatnonzero(bad)[0])})"
        )
    return arr


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise DataError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise DataError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


# ----------------------------------------------------------------------------- KL estimate


def default_bins(n_points, dim: int):
    """Histogram bins per axis for ``n_points`` points: about ``POINTS_PER_BIN`` per bin.

    ``floor((n / POINTS_PER_BIN) ** (1 / dim))``, at least 1, and at most
    ``MAX_TOTAL_BINS ** (1 / dim)`` (181 in 2D, 32 in 3D). Works on arrays too.
    """
    cap = int(math.floor(MAX_TOTAL_BINS ** (1.0 / dim) + 1e-9))
    n = np.asarray(n_points, dtype=np.float64)
    b = np.floor((np.maximum(n, 0.0) / POINTS_PER_BIN) ** (1.0 / dim) + 1e-9)
    out = np.clip(b, 1, cap).astype(np.int64)
    return int(out) if out.ndim == 0 else out


def _axis_bins(lo: np.ndarray, hi: np.ndarray, bins) -> np.ndarray:
    """Bins along each axis: ``bins`` where the box has extent, 1 where it is flat."""
    ext = hi - lo
    return np.where(ext > 0, np.asarray(bins)[..., None], 1).astype(np.int64)


def _bin_index(xt: np.ndarray, lo: np.ndarray, hi: np.ndarray, nbins: np.ndarray) -> np.ndarray:
    """Flat bin index of every point of ``xt`` (d, n) in the box grid (clipped to the box)."""
    ext = hi - lo
    scale = np.where(ext > 0, nbins / np.where(ext > 0, ext, 1.0), 0.0)
    flat = np.zeros(xt.shape[1], dtype=np.int64)
    for j in range(xt.shape[0]):  # loop over axes (2 or 3), vectorised over points
        ij = ((xt[j] - lo[j]) * scale[j]).astype(np.int64)
        np.clip(ij, 0, nbins[j] - 1, out=ij)
        flat *= nbins[j]
        flat += ij
    return flat


def _noise_floor(occupied, n):
    """Mean plus three standard deviations of ``n * KL`` of n uniform points in ``occupied`` bins."""
    k = np.maximum(np.asarray(occupied, dtype=np.float64) - 1.0, 0.0)
    q = 1.0 + (k + 1.0) / (6.0 * np.maximum(n, 1.0))
    return 0.5 * (k * q + 3.0 * np.sqrt(2.0 * k))


def _kl_from_counts(counts: np.ndarray, n: int, total_bins: int, corrected: bool) -> float:
    counts = counts[counts > 0].astype(np.float64)
    if n == 0:
        return 0.0
    kl = float((counts * np.log(counts)).sum() / n - math.log(n) + math.log(total_bins))
    if corrected:
        kl -= float(_noise_floor(len(counts), n)) / n
    return max(kl, 0.0)


def kl_to_uniform(
    points,
    bins: Optional[int] = None,
    box: Optional[np.ndarray] = None,
    corrected: bool = True,
) -> float:
    """KL divergence of a point set's histogram from the uniform distribution on a box.

    Parameters
    ----------
    points : array-like, shape (N, d)
    bins : int, optional
        Bins per axis; default :func:`default_bins` of N. Axes where the box is
        flat get one bin.
    box : array-like, shape (2, d), optional
        Lower and upper corners; default the bounding box of ``points``. Points
        outside it count in the nearest boundary bin.
    corrected : bool
        Subtract the sampling noise of a uniform cloud, ``(k q + 3 sqrt(2 k)) / (2 N)``
        with ``k = occupied bins - 1`` and ``q = 1 + (k + 1) / (6 N)``, and clip at 0
        (the plug-in estimate when False).

    Returns
    -------
    float
        ``sum_b p_b log(p_b * B)`` over the non-empty bins (nats), B the number of bins.
    """
    x = as_points(points, dims=(1, 2, 3))
    n, d = x.shape
    if box is None:
        lo, hi = x.min(axis=0), x.max(axis=0)
    else:
        box = np.asarray(box, dtype=np.float64)
        if box.shape != (2, d) or not np.isfinite(box).all() or (box[1] < box[0]).any():
            raise DataError(f"box must be finite with shape (2, {d}) and lower <= upper")
        lo, hi = box[0], box[1]
    b = default_bins(n, d) if bins is None else _positive_int(bins, "bins")
    nbins = _axis_bins(lo, hi, b)
    counts = np.bincount(_bin_index(x.T, lo, hi, nbins))
    return _kl_from_counts(counts, n, int(np.prod(nbins)), corrected)


def _split_scores(
    xt: np.ndarray, axis: int, cuts: np.ndarray, bins: Optional[int], corrected: bool = True
) -> np.ndarray:
    """Size-weighted KL ``(|L| KL(L) + |R| KL(R)) / |D|`` of every candidate cut, vectorised.

    Parameters
    ----------
    xt : ndarray, shape (d, m)
        The node's points (or a sample of them), one row per axis.
    axis : int
        Split axis.
    cuts : ndarray, shape (K,)
        Increasing cut positions; a point is left of cut k when ``xt[axis] < cuts[k]``.
    bins : int or None
        Bins per axis of every child's histogram; None: :func:`default_bins` of each child.

    Returns
    -------
    ndarray, shape (K,)
    """
    d, m = xt.shape
    k_cuts = len(cuts)
    # slab s holds the points between cuts[s-1] and cuts[s]; they are left of cuts s..K-1
    slab = np.searchsorted(cuts, xt[axis], side="right").astype(np.int16 if k_cuts < 32000 else np.int64)
    counts = np.bincount(slab, minlength=k_cuts + 1)
    xs = xt[:, np.argsort(slab, kind="stable")]  # radix sort for int16
    ends = np.cumsum(counts)
    starts = ends - counts
    full = counts > 0
    mins = np.full((k_cuts + 1, d), np.inf)
    maxs = np.full((k_cuts + 1, d), -np.inf)
    for j in range(d):
        mins[full, j] = np.minimum.reduceat(xs[j], starts[full])
        maxs[full, j] = np.maximum.reduceat(xs[j], starts[full])
    n_left = ends[:k_cuts]
    n_right = m - n_left
    sides = []  # per side: lower corner, scale, bins per axis (K, d), bins in total (K,)
    for n_side, lo, hi in (
        (n_left, np.minimum.accumulate(mins)[:k_cuts], np.maximum.accumulate(maxs)[:k_cuts]),
        (n_right, np.minimum.accumulate(mins[::-1])[::-1][1:], np.maximum.accumulate(maxs[::-1])[::-1][1:]),
    ):
        empty = n_side == 0
        lo, hi = np.where(empty[:, None], 0.0, lo), np.where(empty[:, None], 0.0, hi)
        b = default_bins(n_side, d) if bins is None else np.full(k_cuts, bins, dtype=np.int64)
        nb = _axis_bins(lo, hi, b)
        ext = hi - lo
        scale = np.where(ext > 0, nb / np.where(ext > 0, ext, 1.0), 0.0)
        stride = np.cumprod(np.concatenate([nb[:, 1:], np.ones((k_cuts, 1), np.int64)], axis=1)[:, ::-1], axis=1)[:, ::-1]
        sides.append((lo, scale, nb, stride, np.prod(nb, axis=1)))
    totals = np.concatenate([sides[0][4], sides[1][4]])  # children 0..K-1 left, K..2K-1 right
    offsets = np.concatenate([[0], np.cumsum(totals)])

    # bin every (point, cut) pair in its child's box; the points of one slab share the sides
    pieces = []
    for s in np.flatnonzero(full):
        pts = xs[:, starts[s] : ends[s]]
        for side, ks in ((0, slice(s, k_cuts)), (1, slice(0, s))):
            lo, scale, nb, stride, _ = sides[side]
            flat = np.broadcast_to(offsets[side * k_cuts :][ks], (pts.shape[1], len(range(k_cuts)[ks]))).copy()
            if flat.size == 0:
                continue
            for j in range(d):
                ij = ((pts[j][:, None] - lo[ks, j]) * scale[ks, j]).astype(np.int64)
                np.minimum(ij, nb[ks, j] - 1, out=ij)
                ij *= stride[ks, j]
                flat += ij
            pieces.append(flat.ravel())
    flat = np.concatenate(pieces)
    if offsets[-1] <= 8 * len(flat) + (1 << 16):
        hist = np.bincount(flat, minlength=offsets[-1])
        nz = np.flatnonzero(hist)
        cnt = hist[nz].astype(np.float64)
    else:
        nz, c = np.unique(flat, return_counts=True)
        cnt = c.astype(np.float64)
    owner = np.searchsorted(offsets, nz, side="right") - 1
    sum_clogc = np.bincount(owner, weights=cnt * np.log(cnt), minlength=2 * k_cuts)
    occupied = np.bincount(owner, minlength=2 * k_cuts)
    n = np.concatenate([n_left, n_right]).astype(np.float64)
    n_kl = sum_clogc - n * np.log(np.where(n > 0, n, 1.0)) + n * np.log(totals)
    if corrected:
        n_kl -= _noise_floor(occupied, n)
    n_kl = np.where(n > 0, np.maximum(n_kl, 0.0), 0.0)
    return (n_kl[:k_cuts] + n_kl[k_cuts:]) / m


# ----------------------------------------------------------------------------- decomposition


@dataclass
class Decomposition:
    """Result of :func:`kdtree_decompose`.

    Attributes
    ----------
    boxes : ndarray, shape (S, 2, d)
        Lower and upper corner of each subdomain; together they tile ``root_box``.
    labels : ndarray, shape (N,), int64
        Subdomain that owns each point (every point owned exactly once; a point
        lies in the closed box of its owner).
    members : list of ndarray
        Point indices (sorted) of each subdomain: the owned points, plus with
        ``overlap > 0`` every point inside ``halo_boxes[s]``.
    requested, made : int
        Subdomains asked for and made (``made <= requested``).
    message : str or None
        Why fewer subdomains were made, None when ``made == requested``.
    halo_boxes : ndarray, shape (S, 2, d)
        ``boxes`` grown by ``overlap`` times their extent on each side, clipped to ``root_box``.
    root_box : ndarray, shape (2, d)
        Bounding box of the cloud (flat axes padded, see :func:`kdtree_decompose`).
    kl : ndarray, shape (S,)
        Noise-corrected KL (see the module notes) of each subdomain's owned points from
        uniform over their bounding box.
    overlap : float
    """

    boxes: np.ndarray
    labels: np.ndarray
    members: List[np.ndarray]
    requested: int
    made: int
    message: Optional[str]
    halo_boxes: np.ndarray
    root_box: np.ndarray
    kl: np.ndarray
    overlap: float = 0.0
    _tree: dict = field(default_factory=dict, repr=False)

    @property
    def dim(self) -> int:
        """Spatial dimension d."""
        return int(self.boxes.shape[2])

    @property
    def num_subdomains(self) -> int:
        """Number of subdomains S (same as ``made``)."""
        return int(self.boxes.shape[0])

    def counts(self) -> np.ndarray:
        """Owned points per subdomain, shape (S,)."""
        return np.bincount(self.labels, minlength=self.num_subdomains)

    def member_counts(self) -> np.ndarray:
        """Member points (with halo) per subdomain, shape (S,)."""
        return np.array([len(m) for m in self.members], dtype=np.int64)

    def locate(self, points) -> np.ndarray:
        """Subdomain of arbitrary points by descending the tree's cuts.

        Gives ``labels`` back for the decomposed points. Points outside the
        root box go to the subdomain on their side of every cut, i.e. the box
        next to them.

        Parameters
        ----------
        points : array-like, shape (M, d)

        Returns
        -------
        ndarray, shape (M,), int64
        """
        x = as_points(points, dims=(self.dim,))
        tree = self._tree
        out = np.empty(len(x), dtype=np.int64)
        stack = [(0, np.arange(len(x)))]
        while stack:
            node, ids = stack.pop()
            if tree["leaf"][node] >= 0:
                out[ids] = tree["leaf"][node]
                continue
            left = x[ids, tree["axis"][node]] < tree["cut"][node]
            stack.append((tree["left"][node], ids[left]))
            stack.append((tree["right"][node], ids[~left]))
        return out


def _choose_split(
    xt: np.ndarray,
    tlo: np.ndarray,
    thi: np.ndarray,
    bins: Optional[int],
    n_candidates: int,
    min_points: int,
    sample_size: int,
    rng: np.random.Generator,
):
    """Best cut of one node, or the reason there is none.

    ``xt`` (d, n) holds the node's points one row per axis; ``tlo``/``thi`` their bounding box.
    Returns ``(axis, cut, left_mask)`` or ``(None, reason, None)``.
    """
    n = xt.shape[1]
    ext = thi - tlo
    axis = int(np.argmax(ext))
    if ext[axis] <= 0:
        return None, "all points coincide", None
    cuts = np.unique(tlo[axis] + ext[axis] * np.arange(1, n_candidates + 1) / (n_candidates + 1))
    cuts = cuts[(cuts > tlo[axis]) & (cuts <= thi[axis])]
    xa = xt[axis]
    slab = np.searchsorted(cuts, xa, side="right")
    n_left = np.cumsum(np.bincount(slab, minlength=len(cuts) + 1))[: len(cuts)]
    n_right = n - n_left
    valid = (n_left >= max(min_points, 1)) & (n_right >= max(min_points, 1))
    if not valid.any():
        return None, "no cut leaves min_points on both sides", None
    sample = xt if n <= sample_size else xt[:, np.sort(rng.choice(n, sample_size, replace=False))]
    score = _split_scores(sample, axis, cuts, bins)
    score[~valid] = np.inf
    best = score.min()
    ties = np.flatnonzero(score <= best + 1e-12 * max(1.0, abs(best)))
    k = ties[np.argmin(np.abs(n_left[ties] - n_right[ties]))]  # among equals, the most balanced
    left = xa < cuts[k]
    a, b = xa[left].max(), xa[~left].min()
    cut = 0.5 * (a + b)
    if not a < cut <= b:  # a and b adjacent floats
        cut = b
    return axis, float(cut), left


def kdtree_decompose(
    points,
    n_subdomains: int,
    *,
    bins: Optional[int] = None,
    max_depth: int = 16,
    min_points: int = 8,
    n_candidates: int = 32,
    overlap: float = 0.0,
    sample_size: int = 32768,
    seed: int = 0,
) -> Decomposition:
    """Split a point cloud into at most ``n_subdomains`` boxes where it is least uniform (NUNO).

    Parameters
    ----------
    points : array-like or torch.Tensor, shape (N, d), d = 2 or 3
    n_subdomains : int
        Subdomains wanted (>= 1, <= N).
    bins : int, optional
        Histogram bins per axis for every KL estimate; default about
        ``(n / 8) ** (1 / d)`` for a node of n points (see :func:`default_bins`).
    max_depth : int
        Nodes at this depth are not split (the root has depth 0).
    min_points : int
        Every subdomain keeps at least this many points (nodes with fewer than
        ``2 * min_points`` are not split).
    n_candidates : int
        Evenly spaced cut positions tried inside the node's bounding box along its longest axis.
    overlap : float
        Halo width as a fraction of each box's extent: ``members[s]`` also holds
        the points within ``overlap * extent`` of box s (``halo_boxes``).
    sample_size : int
        Nodes with more points score their candidate cuts on a random sample of
        this many points (fixed ``seed``, so results are reproducible).
    seed : int
        Seed of that sample.

    Returns
    -------
    Decomposition
        Exactly the subdomains made, in depth-first (left before right) tree order.
        When fewer than requested, ``message`` says why and a
        :class:`DecompositionWarning` is issued.

    Raises
    ------
    DataError
        Bad shapes, NaN/inf coordinates, ``n_subdomains < 1`` or more subdomains than points,
        invalid parameters.

    Notes
    -----
    Axes along which all points coincide are padded by ``1e-3`` of the largest
    extent (or by 0.5 when all points coincide) so every box has a volume.
    """
    x = as_points(points)
    n, d = x.shape
    n_sub = _positive_int(n_subdomains, "n_subdomains")
    if n_sub > n:
        raise DataError(f"cannot make {n_sub} subdomains from {n} points (need at least one point each)")
    max_depth = _positive_int(max_depth, "max_depth", minimum=0)
    min_points = _positive_int(min_points, "min_points")
    n_candidates = _positive_int(n_candidates, "n_candidates")
    sample_size = _positive_int(sample_size, "sample_size", minimum=16)
    if bins is not None:
        bins = _positive_int(bins, "bins")
    if not np.isfinite(overlap) or overlap < 0:
        raise DataError(f"overlap must be a finite number >= 0, got {overlap!r}")
    rng = np.random.default_rng(seed)
    xt = np.ascontiguousarray(x.T)  # (d, N): per-axis rows make gathers and reductions fast

    lo, hi = xt.min(axis=1), xt.max(axis=1)
    ext = hi - lo
    pad = np.where(ext > 0, 0.0, 1e-3 * ext.max() if ext.max() > 0 else 0.5)
    root_box = np.stack([lo - pad, hi + pad])

    # node arrays (python lists, one entry per node)
    idx: List[Optional[np.ndarray]] = [np.arange(n)]
    cell: List[np.ndarray] = [root_box.copy()]
    depth = [0]
    axis_of, cut_of, left_of, right_of = [-1], [np.nan], [-1], [-1]
    kl_of: List[float] = []
    stops: dict = {}

    def node_kl(i: int) -> Tuple[float, np.ndarray, np.ndarray]:
        xn = np.take(xt, idx[i], axis=1)
        tlo, thi = xn.min(axis=1), xn.max(axis=1)
        b = default_bins(xn.shape[1], d) if bins is None else bins
        nb = _axis_bins(tlo, thi, b)
        value = _kl_from_counts(np.bincount(_bin_index(xn, tlo, thi, nb)), xn.shape[1], int(np.prod(nb)), True)
        return value, tlo, thi

    tight = {}
    heap: list = []
    counter = 0

    def push(i: int) -> None:
        nonlocal counter
        value, tlo, thi = node_kl(i)
        while len(kl_of) <= i:
            kl_of.append(0.0)
        kl_of[i] = value
        tight[i] = (tlo, thi)
        size = len(idx[i])
        if depth[i] >= max_depth:
            stops["reached max_depth"] = stops.get("reached max_depth", 0) + 1
        elif size < 2 * min_points:
            stops["fewer than 2*min_points points"] = stops.get("fewer than 2*min_points points", 0) + 1
        else:
            heapq.heappush(heap, (-size * value, -size, counter, i))
            counter += 1

    push(0)
    n_leaves = 1
    while n_leaves < n_sub and heap:
        _, _, _, i = heapq.heappop(heap)
        xn = np.take(xt, idx[i], axis=1)
        tlo, thi = tight[i]
        axis, cut, left = _choose_split(xn, tlo, thi, bins, n_candidates, min_points, sample_size, rng)
        if axis is None:
            stops[cut] = stops.get(cut, 0) + 1
            continue
        children = []
        for mask, side in ((left, 0), (~left, 1)):
            box = cell[i].copy()
            box[1 - side, axis] = cut  # left child: upper corner = cut; right child: lower corner = cut
            idx.append(idx[i][mask])
            cell.append(box)
            depth.append(depth[i] + 1)
            axis_of.append(-1)
            cut_of.append(np.nan)
            left_of.append(-1)
            right_of.append(-1)
            children.append(len(idx) - 1)
        axis_of[i], cut_of[i], left_of[i], right_of[i] = axis, cut, children[0], children[1]
        idx[i] = None  # only the leaves keep their points
        tight.pop(i)
        for c in children:
            push(c)
        n_leaves += 1

    # leaves in depth-first order
    leaf_of = np.full(len(idx), -1, dtype=np.int64)
    order: List[int] = []
    stack = [0]
    while stack:
        i = stack.pop()
        if left_of[i] < 0:
            leaf_of[i] = len(order)
            order.append(i)
        else:
            stack.extend([right_of[i], left_of[i]])
    made = len(order)
    labels = np.empty(n, dtype=np.int64)
    for s, i in enumerate(order):
        labels[idx[i]] = s
    boxes = np.stack([cell[i] for i in order])
    kl = np.array([kl_of[i] for i in order])

    span = boxes[:, 1] - boxes[:, 0]
    halo_boxes = np.stack([boxes[:, 0] - overlap * span, boxes[:, 1] + overlap * span], axis=1)
    halo_boxes = np.clip(halo_boxes, root_box[0], root_box[1])
    members = [np.sort(idx[i]) for i in order]
    if overlap > 0:
        members = _halo_members(xt, members, boxes, halo_boxes)

    message = None
    if made < n_sub:
        reasons = ", ".join(f"{v} {k}" for k, v in sorted(stops.items())) or "no split possible"
        message = (
            f"made {made} of the {n_sub} requested subdomains: no subdomain can be split further "
            f"(min_points={min_points}, max_depth={max_depth}; {reasons})"
        )
        warnings.warn(message, DecompositionWarning, stacklevel=2)

    tree = {
        "axis": np.array(axis_of, dtype=np.int64),
        "cut": np.array(cut_of, dtype=np.float64),
        "left": np.array(left_of, dtype=np.int64),
        "right": np.array(right_of, dtype=np.int64),
        "leaf": leaf_of,
    }
    return Decomposition(
        boxes=boxes,
        labels=labels,
        members=members,
        requested=n_sub,
        made=made,
        message=message,
        halo_boxes=halo_boxes,
        root_box=root_box,
        kl=kl,
        overlap=float(overlap),
        _tree=tree,
    )


def _halo_members(xt: np.ndarray, owned: List[np.ndarray], boxes: np.ndarray, halo_boxes: np.ndarray) -> List[np.ndarray]:
    """Sorted indices of the points inside each closed halo box.

    A halo box only reaches into the leaf boxes it touches, so only their
    points are tested (``xt`` is (d, N), ``owned[t]`` the points of leaf t).
    """
    touches = np.all(
        (boxes[None, :, 0] <= halo_boxes[:, None, 1]) & (boxes[None, :, 1] >= halo_boxes[:, None, 0]), axis=2
    )  # [s, t]: leaf box t meets halo box s
    coords = [np.take(xt, ids, axis=1) for ids in owned]
    out = []
    for s, (lo, hi) in enumerate(halo_boxes):
        parts = [owned[s]]
        for t in np.flatnonzero(touches[s]):
            if t == s:
                continue
            pts = coords[t]
            inside = np.ones(pts.shape[1], dtype=bool)
            for j in range(len(lo)):
                inside &= (pts[j] >= lo[j]) & (pts[j] <= hi[j])
            parts.append(owned[t][inside])
        out.append(np.sort(np.concatenate(parts)))
    return out
