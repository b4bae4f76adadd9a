"""PNG of a domain decomposition: points coloured by subdomain, subdomain boxes outlined.

2D clouds get one panel; 3D clouds three axis projections (x-y, x-z, y-z).
Drawn with matplotlib's object API on an Agg canvas (no display, no pyplot state).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from ..errors import DataError
from ..utils.atomic import atomic_path

PathLike = Union[str, "os.PathLike[str]"]

#: Axis pairs drawn for 3D clouds.
PROJECTIONS = ((0, 1), (0, 2), (1, 2))
AXIS_NAMES = "xyz"


def subdomain_colors(n: int) -> np.ndarray:
    """``n`` distinct RGBA colours, shape (n, 4) (tab10/tab20, cycling beyond 20)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return np.asarray([cmap(i % cmap.N) for i in range(n)])


def draw_boxes(ax, boxes: np.ndarray, axes_pair: Sequence[int] = (0, 1), colors=None, **style) -> None:
    """Outline boxes projected on two axes.

    Parameters
    ----------
    ax : matplotlib Axes
    boxes : ndarray, shape (S, 2, d)
        Lower and upper corner of each box.
    axes_pair : pair of int
        Coordinates drawn as x and y.
    colors : array-like, shape (S, 4), optional
        Edge colour per box (default black).
    **style
        Passed to ``matplotlib.patches.Rectangle`` (e.g. ``linestyle``).
    """
    from matplotlib.patches import Rectangle

    i, j = axes_pair
    for s, box in enumerate(np.asarray(boxes, dtype=np.float64)):
        (x0, y0), (x1, y1) = box[0, [i, j]], box[1, [i, j]]
        edge = "black" if colors is None else colors[s]
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=edge,
                               linewidth=style.pop("linewidth", 1.0), **style))


def plot_decomposition(
    points,
    labels,
    boxes,
    path: PathLike,
    halo_boxes=None,
    title: Optional[str] = None,
    max_points: int = 200_000,
) -> Path:
    """Save a PNG of a decomposition (atomically).

    Parameters
    ----------
    points : array-like, shape (N, d), d = 2 or 3
    labels : array-like, shape (N,)
        Subdomain of each point, in ``[0, S)``.
    boxes : array-like, shape (S, 2, d)
        Subdomain boxes (solid outlines).
    path : path-like
        The PNG to write.
    halo_boxes : array-like, shape (S, 2, d), optional
        Boxes with their halo (dashed outlines), drawn when they differ from ``boxes``.
    title : str, optional
    max_points : int
        Larger clouds are drawn from a fixed random subset of this many points.

    Returns
    -------
    Path
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    x = np.asarray(points, dtype=np.float64)
    lab = np.asarray(labels).reshape(-1)
    b = np.asarray(boxes, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] not in (2, 3):
        raise DataError(f"points must have shape (N, 2) or (N, 3), got {x.shape}")
    if len(lab) != len(x):
        raise DataError(f"got {len(lab)} labels for {len(x)} points")
    if b.ndim != 3 or b.shape[1:] != (2, x.shape[1]):
        raise DataError(f"boxes must have shape (S, 2, {x.shape[1]}), got {b.shape}")
    n_sub = len(b)
    if len(lab) and (lab.min() < 0 or lab.max() >= n_sub):
        raise DataError(f"labels must lie in [0, {n_sub}), got {lab.min()} .. {lab.max()}")
    if len(x) > max_points:
        keep = np.sort(np.random.default_rng(0).choice(len(x), max_points, replace=False))
        x, lab = x[keep], lab[keep]
    colors = subdomain_colors(n_sub)
    pairs = [(0, 1)] if x.shape[1] == 2 else list(PROJECTIONS)
    fig = Figure(figsize=(5.2 * len(pairs), 5.0))
    FigureCanvasAgg(fig)
    size = float(np.clip(2e4 / max(len(x), 1), 0.3, 12.0))
    halo = None if halo_boxes is None else np.asarray(halo_boxes, dtype=np.float64)
    if halo is not None and np.allclose(halo, b):
        halo = None
    for k, (i, j) in enumerate(pairs):
        ax = fig.add_subplot(1, len(pairs), k + 1)
        ax.scatter(x[:, i], x[:, j], c=colors[lab], s=size, linewidths=0)
        draw_boxes(ax, b, (i, j))
        if halo is not None:
            draw_boxes(ax, halo, (i, j), colors=colors, linestyle="--", linewidth=0.8)
        lo, hi = b[:, 0].min(axis=0), b[:, 1].max(axis=0)
        if halo is not None:
            lo, hi = np.minimum(lo, halo[:, 0].min(axis=0)), np.maximum(hi, halo[:, 1].max(axis=0))
        pad = 0.02 * (hi - lo)
        ax.set_xlim(lo[i] - pad[i], hi[i] + pad[i])
        ax.set_ylim(lo[j] - pad[j], hi[j] + pad[j])
        ax.set_aspect("equal")
        ax.set_xlabel(AXIS_NAMES[i])
        ax.set_ylabel(AXIS_NAMES[j])
    fig.suptitle(title or f"{n_sub} subdomains, {len(lab)} points")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return Path(path)
