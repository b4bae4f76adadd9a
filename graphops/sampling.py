"""Farthest point sampling (FPS): a well-spread subset of a point cloud.

Starting from one point, FPS repeatedly adds the point farthest from the ones
chosen so far. After ``m`` picks every point of the cloud lies within the
*coverage radius* (the largest distance from a point to its nearest sample) of
a sample, and that radius is at most twice the smallest radius any ``m``-point
subset can achieve (FPS is the 2-approximation of the k-centre problem).

Backends
--------
``"fpsample"``
    The compiled ``fpsample`` package (``fps_sampling``, exact FPS in C++/Rust,
    float32 coordinates). Used by default when it imports.
``"numpy"``
    A vectorised numpy loop in this module: ``m`` iterations of an O(N) distance
    update and ``argmax`` (float64). Always available; used when ``fpsample`` is
    not installed, or on request.

Both pick the same start point and run exact FPS, so they agree up to ties
between equally distant points (and float32 rounding in ``fpsample``).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .errors import ConfigError, DataError

BACKENDS = ("auto", "fpsample", "numpy")


def fpsample_available() -> bool:
    """Whether the compiled ``fpsample`` package imports."""
    try:
        import fpsample  # noqa: F401
    except Exception:  # pragma: no cover - depends on the environment
        return False
    return True


def fps_backend(backend: str = "auto") -> str:
    """Resolve ``backend`` to ``"fpsample"`` or ``"numpy"``.

    Raises
    ------
    ConfigError
        Unknown backend, or ``"fpsample"`` asked for but not installed.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"FPS backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        return "fpsample" if fpsample_available() else "numpy"
    if backend == "fpsample" and not fpsample_available():
        raise ConfigError("FPS backend 'fpsample' asked for but the fpsample package is not installed")
    return backend


def _check_cloud(points, m: int) -> np.ndarray:
    arr = np.asarray(points.detach().cpu().numpy() if hasattr(points, "detach") else points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise DataError(f"farthest point sampling needs points of shape (N, d), got {tuple(arr.shape)}")
    if len(arr) == 0:
        raise DataError("farthest point sampling got an empty point cloud")
    if not np.isfinite(arr).all():
        raise DataError("farthest point sampling got NaN or infinite coordinates")
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ConfigError(f"the number of samples must be a positive integer, got {m!r}")
    if m > len(arr):
        raise DataError(f"cannot pick {m} samples from a cloud of {len(arr)} points")
    return arr


def _fps_numpy(pts: np.ndarray, m: int, start: int) -> np.ndarray:
    n = len(pts)
    chosen = np.empty(m, dtype=np.int64)
    chosen[0] = start
    best = np.full(n, np.inf)
    diff = np.empty_like(pts)
    d2 = np.empty(n)
    for i in range(1, m):
        np.subtract(pts, pts[chosen[i - 1]], out=diff)
        np.einsum("ij,ij->i", diff, diff, out=d2)
        np.minimum(best, d2, out=best)
        best[chosen[i - 1]] = -1.0  # never pick a point twice (duplicates sit at distance 0)
        chosen[i] = int(np.argmax(best))
    return chosen


def farthest_point_sampling(points, m: int, start: int = 0, backend: str = "auto") -> np.ndarray:
    """Indices of ``m`` farthest-point samples of a cloud.

    Parameters
    ----------
    points : array-like or Tensor, shape (N, d)
    m : int
        Number of samples, ``1 <= m <= N``. ``m == N`` returns a permutation.
    start : int
        Index of the first sample (deterministic; default 0).
    backend : {"auto", "fpsample", "numpy"}
        See the module docstring.

    Returns
    -------
    numpy.ndarray, shape (m,), int64
        Distinct indices into ``points``, in the order they were picked.

    Raises
    ------
    DataError
        Empty cloud, NaN coordinates, or ``m > N``.
    ConfigError
        ``m < 1``, a bad ``start`` or an unknown backend.
    """
    pts = _check_cloud(points, m)
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or not 0 <= start < len(pts):
        raise ConfigError(f"FPS start index must be in 0..{len(pts) - 1}, got {start!r}")
    which = fps_backend(backend)
    if which == "fpsample":
        import fpsample

        idx = np.asarray(fpsample.fps_sampling(pts.astype(np.float32), int(m), start_idx=int(start)), dtype=np.int64)
        if len(np.unique(idx)) == m:
            return idx
        # float32 ties among duplicate points can repeat an index: redo exactly in float64
    return _fps_numpy(pts, int(m), int(start))


def coverage_radius(points, samples) -> float:
    """Largest distance from a point of the cloud to its nearest sample.

    Parameters
    ----------
    points : array-like, shape (N, d)
    samples : array-like of int, shape (m,)
        Indices into ``points``.

    Returns
    -------
    float
    """
    from scipy.spatial import cKDTree

    pts = np.asarray(points, dtype=np.float64)
    idx = np.asarray(samples, dtype=np.int64)
    if idx.size == 0:
        raise DataError("coverage_radius needs at least one sample")
    dist, _ = cKDTree(pts[idx]).query(pts, k=1)
    return float(dist.max())


def spacing(points, samples: Optional[np.ndarray] = None) -> float:
    """Median distance from each (sampled) point to its nearest other sampled point.

    Parameters
    ----------
    points : array-like, shape (N, d)
    samples : array-like of int, optional
        Restrict to these indices.

    Returns
    -------
    float
        0 for fewer than two points.
    """
    from scipy.spatial import cKDTree

    pts = np.asarray(points, dtype=np.float64)
    if samples is not None:
        pts = pts[np.asarray(samples, dtype=np.int64)]
    if len(pts) < 2:
        return 0.0
    dist, _ = cKDTree(pts).query(pts, k=2)
    return float(np.median(dist[:, 1]))
