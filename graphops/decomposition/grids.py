"""Uniform grids over subdomain boxes, sized by an oversampling ratio with the box's aspect ratio."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import DataError


@dataclass(frozen=True, eq=False)
class GridSpec:
    """A uniform grid whose nodes include both corners of its box.

    Node ``k`` along axis ``j`` sits at ``np.linspace(lower[j], upper[j], shape[j])[k]``.
    Arrays of node values have shape ``shape`` (+ channels), axis j first (``ij`` indexing).

    Attributes
    ----------
    lower, upper : ndarray, shape (d,)
        Box corners (``upper > lower`` on every axis).
    shape : tuple of int
        Nodes per axis (each >= 2).
    """

    lower: np.ndarray
    upper: np.ndarray
    shape: Tuple[int, ...]

    def __post_init__(self) -> None:
        lower = np.asarray(self.lower, dtype=np.float64).reshape(-1)
        upper = np.asarray(self.upper, dtype=np.float64).reshape(-1)
        shape = tuple(int(s) for s in self.shape)
        if not (len(lower) == len(upper) == len(shape)) or len(shape) not in (1, 2, 3):
            raise DataError(f"grid corners and shape disagree: {len(lower)}, {len(upper)} and {len(shape)} axes")
        if not (np.isfinite(lower).all() and np.isfinite(upper).all()) or (upper <= lower).any():
            raise DataError(f"grid box must be finite with upper > lower, got {lower.tolist()} .. {upper.tolist()}")
        if min(shape) < 2:
            raise DataError(f"a grid needs at least 2 nodes per axis, got shape {shape}")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)
        object.__setattr__(self, "shape", shape)

    @property
    def dim(self) -> int:
        """Spatial dimension d."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of nodes, ``prod(shape)``."""
        return int(np.prod(self.shape))

    @property
    def spacing(self) -> np.ndarray:
        """Node spacing per axis, shape (d,)."""
        return (self.upper - self.lower) / (np.asarray(self.shape) - 1)

    @property
    def box(self) -> np.ndarray:
        """Lower and upper corner, shape (2, d)."""
        return np.stack([self.lower, self.upper])

    def axes(self) -> List[np.ndarray]:
        """Node coordinates along each axis: ``[linspace(lower[j], upper[j], shape[j])]``."""
        return [np.linspace(lo, hi, n) for lo, hi, n in zip(self.lower, self.upper, self.shape)]

    def nodes(self) -> np.ndarray:
        """All node coordinates, shape (prod(shape), d), in C order of the value arrays."""
        mesh = np.meshgrid(*self.axes(), indexing="ij")
        return np.stack([m.ravel() for m in mesh], axis=1)

    def __repr__(self) -> str:
        return f"GridSpec(lower={self.lower.tolist()}, upper={self.upper.tolist()}, shape={self.shape})"


def grid_shape(
    extents,
    n_points: int,
    oversampling: float = 1.0,
    *,
    min_size: int = 2,
    max_size: Optional[int] = None,
) -> Tuple[int, ...]:
    """Nodes per axis for a box: about ``oversampling * n_points`` nodes, proportional to the extents.

    With ``shape[j] = extents[j] * s``, ``s`` solves ``prod(shape) = oversampling * n_points``;
    axes that would get fewer than ``min_size`` nodes are fixed at ``min_size`` and the
    others share the remaining budget. Sizes are then rounded (and capped at ``max_size``).

    Parameters
    ----------
    extents : array-like, shape (d,)
        Box side lengths (> 0).
    n_points : int
        Points in the box.
    oversampling : float
        Grid nodes per point (> 0).
    min_size, max_size : int
        Bounds on the nodes per axis.

    Returns
    -------
    tuple of int, length d
    """
    ext = np.asarray(extents, dtype=np.float64).reshape(-1)
    if not np.isfinite(ext).all() or (ext <= 0).any():
        raise DataError(f"box extents must be finite and positive, got {ext.tolist()}")
    if not np.isfinite(oversampling) or oversampling <= 0:
        raise DataError(f"oversampling must be a positive number, got {oversampling!r}")
    if n_points < 0:
        raise DataError(f"n_points must be >= 0, got {n_points}")
    if min_size < 2 or (max_size is not None and max_size < min_size):
        raise DataError(f"need 2 <= min_size <= max_size, got {min_size} and {max_size}")
    d = len(ext)
    target = max(float(oversampling) * float(n_points), float(min_size) ** d)
    fixed = np.zeros(d, dtype=bool)
    sizes = np.full(d, float(min_size))
    for _ in range(d):  # at most d rounds: each adds an axis to the fixed set
        free = ~fixed
        budget = target / float(min_size) ** fixed.sum()
        scale = (budget / np.prod(ext[free])) ** (1.0 / free.sum())
        sizes[free] = ext[free] * scale
        low = free & (sizes < min_size)
        if not low.any():
            break
        fixed |= low
        sizes[fixed] = min_size
        if fixed.all():
            break
    out = np.maximum(np.rint(sizes), min_size)
    if max_size is not None:
        out = np.minimum(out, max_size)
    return tuple(int(v) for v in out)


def make_grids(
    boxes,
    counts,
    oversampling: float = 1.0,
    *,
    common_shape: Union[bool, str, Sequence[int]] = False,
    min_size: int = 2,
    max_size: Optional[int] = None,
) -> List[GridSpec]:
    """One uniform grid per box.

    Parameters
    ----------
    boxes : array-like, shape (S, 2, d)
        Lower and upper corner of each box.
    counts : array-like, shape (S,)
        Points in each box (sizes the grid: ``prod(shape) ~ oversampling * count``).
    oversampling : float
        Grid nodes per point.
    common_shape : bool, "mean" or sequence of int
        False: each box gets its own shape. True: every grid gets the per-axis
        maximum of those shapes (so they stack into one tensor). "mean": the
        per-axis geometric mean instead (about ``oversampling`` nodes per point
        overall, where the maximum can give many more). A shape (tuple of d
        ints): every grid gets it.
    min_size, max_size : int
        Bounds on the nodes per axis (see :func:`grid_shape`).

    Returns
    -------
    list of GridSpec, length S
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 3 or boxes.shape[1] != 2:
        raise DataError(f"boxes must have shape (S, 2, d), got {tuple(boxes.shape)}")
    counts = np.asarray(counts).reshape(-1)
    if len(counts) != len(boxes):
        raise DataError(f"got {len(counts)} point counts for {len(boxes)} boxes")
    d = boxes.shape[2]
    if isinstance(common_shape, (bool, np.bool_, str)):
        if isinstance(common_shape, str) and common_shape != "mean":
            raise DataError(f"common_shape must be True, False, 'mean' or {d} integers, got {common_shape!r}")
        shapes = [grid_shape(b[1] - b[0], int(c), oversampling, min_size=min_size, max_size=max_size)
                  for b, c in zip(boxes, counts)]
        if not isinstance(common_shape, str) and common_shape:
            shapes = [tuple(int(v) for v in np.max(shapes, axis=0))] * len(shapes)
        elif common_shape == "mean" and shapes:
            mean = np.exp(np.log(np.asarray(shapes, dtype=np.float64)).mean(axis=0))
            shapes = [tuple(int(v) for v in np.maximum(np.rint(mean), min_size))] * len(shapes)
    else:
        shape = tuple(int(v) for v in common_shape)
        if len(shape) != d or min(shape) < 2:
            raise DataError(f"common_shape must be {d} integers >= 2, got {tuple(common_shape)}")
        shapes = [shape] * len(boxes)
    return [GridSpec(b[0], b[1], s) for b, s in zip(boxes, shapes)]


def decomposition_grids(
    decomposition,
    oversampling: float = 1.0,
    *,
    common_shape: Union[bool, str, Sequence[int]] = False,
    halo: bool = True,
    min_size: int = 2,
    max_size: Optional[int] = None,
) -> List[GridSpec]:
    """Grids for the subdomains of a :class:`~graphops.decomposition.kdtree.Decomposition`.

    Parameters
    ----------
    decomposition : Decomposition
    oversampling : float
        Grid nodes per member point.
    common_shape : bool, "mean" or sequence of int
        See :func:`make_grids`.
    halo : bool
        Grid over ``halo_boxes`` sized by the member counts (True), or over
        ``boxes`` sized by the owned counts (False). Same thing when the
        decomposition has no overlap.

    Returns
    -------
    list of GridSpec, length S
    """
    if halo:
        boxes, counts = decomposition.halo_boxes, decomposition.member_counts()
    else:
        boxes, counts = decomposition.boxes, decomposition.counts()
    return make_grids(boxes, counts, oversampling, common_shape=common_shape, min_size=min_size, max_size=max_size)
