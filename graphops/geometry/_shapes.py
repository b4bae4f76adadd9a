"""Random closed curves and hole placement in the plane (pure numpy, no gmsh)."""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

from ..errors import MeshError


def segment_distance(point: np.ndarray, polygon: np.ndarray) -> float:
    """Distance from ``point`` (2,) to the closed polyline ``polygon`` (K, 2)."""
    a = polygon
    b = np.roll(polygon, -1, axis=0)
    ab = b - a
    t = np.clip(((point - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-300), 0.0, 1.0)
    closest = a + t[:, None] * ab
    return float(np.sqrt(((closest - point) ** 2).sum(1).min()))


def inside_polygon(point: np.ndarray, polygon: np.ndarray) -> bool:
    """Even-odd rule: is ``point`` (2,) inside the closed polygon ``polygon`` (K, 2)?"""
    x, y = point
    a = polygon
    b = np.roll(polygon, -1, axis=0)
    crosses = (a[:, 1] > y) != (b[:, 1] > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = a[:, 0] + (y - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
    return bool(np.count_nonzero(crosses & (x < x_at)) % 2)


def fourier_radius(rng: np.random.Generator, base: float, amplitude: float, modes: range, samples: int) -> np.ndarray:
    """Radii ``(samples,)`` of ``base * (1 + sum_k a_k cos k t + b_k sin k t)``, ``a_k, b_k ~ U(-amplitude, amplitude)``."""
    theta = 2.0 * np.pi * np.arange(samples) / samples
    r = np.ones(samples)
    for k in modes:
        a, b = rng.uniform(-amplitude, amplitude, size=2)
        r += a * np.cos(k * theta) + b * np.sin(k * theta)
    return base * r


def star_polygon(rng: np.random.Generator, centre, num_vertices: int, r_range: Tuple[float, float], jitter: float = 0.3) -> np.ndarray:
    """A random star-shaped (hence simple) polygon ``(K, 2)``, counter-clockwise.

    Vertex ``i`` sits at angle ``2 pi (i + U(-jitter, jitter)) / K`` and radius ``U(*r_range)``.
    """
    k = num_vertices
    theta = 2.0 * np.pi * (np.arange(k) + rng.uniform(-jitter, jitter, size=k)) / k
    theta += rng.uniform(0.0, 2.0 * np.pi)
    r = rng.uniform(*r_range, size=k)
    return np.asarray(centre, dtype=float) + r[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)


def place_holes(
    rng: np.random.Generator,
    outer: np.ndarray,
    radii: np.ndarray,
    margin: float,
    tries: int = 4000,
) -> List[np.ndarray]:
    """Centres of non-overlapping discs strictly inside a closed polygon.

    Disc ``j`` has radius ``radii[j]``; each keeps ``margin`` from the outer
    boundary and from the other discs. Centres are drawn uniformly in the
    polygon's bounding box and rejected until they fit; after every quarter of
    ``tries`` failures the disc shrinks by 10% (deterministic given ``rng``).

    Returns
    -------
    list of ndarray (2,)
        One centre per disc; ``radii`` is shrunk in place where needed.
    """
    lo, hi = outer.min(axis=0), outer.max(axis=0)
    centres: List[np.ndarray] = []
    for j in range(len(radii)):
        for attempt in range(tries):
            if attempt and attempt % (tries // 4) == 0:
                radii[j] *= 0.9
            c = rng.uniform(lo, hi)
            if not inside_polygon(c, outer) or segment_distance(c, outer) < radii[j] + margin:
                continue
            if any(np.linalg.norm(c - o) < radii[j] + radii[i] + margin for i, o in enumerate(centres)):
                continue
            centres.append(c)
            break
        else:
            raise MeshError(f"could not place hole {j + 1} of {len(radii)} inside the domain")
    return centres
