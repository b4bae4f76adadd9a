"""Farthest point sampling: coverage property, backends, bad input."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from graphops.errors import ConfigError, DataError
from graphops.sampling import (
    coverage_radius,
    farthest_point_sampling,
    fps_backend,
    fpsample_available,
    spacing,
)

BACKENDS = ["numpy"] + (["fpsample"] if fpsample_available() else [])


def grid(n: int) -> np.ndarray:
    xs = np.linspace(0.0, 1.0, n)
    return np.stack(np.meshgrid(xs, xs), axis=-1).reshape(-1, 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_coverage_decreases_with_m_and_is_near_optimal_on_a_grid(backend):
    n = 80
    pts = grid(n)
    h = 1.0 / (n - 1)
    radii = []
    for m in (4, 8, 16, 32, 64, 128, 256):
        idx = farthest_point_sampling(pts, m, backend=backend)
        r = coverage_radius(pts, idx)
        radii.append(r)
        # m disks of radius r + h / sqrt(2) cover the unit square, so by the hexagonal covering
        # bound m * (3 sqrt(3) / 2) (r + h / sqrt(2))^2 >= 1: a lower bound on the optimum.
        lower = np.sqrt(2.0 / (3.0 * np.sqrt(3.0) * m)) - h / np.sqrt(2.0)
        assert r >= lower - 1e-12
        if m >= 16:  # FPS is a 2-approximation of the best coverage
            assert r <= 2.0 * lower, (m, r, lower)
    assert all(b <= a + 1e-12 for a, b in zip(radii, radii[1:]))
    assert radii[-1] < radii[0] / 8


@pytest.mark.parametrize("backend", BACKENDS)
def test_samples_are_distinct_start_first_and_separated_by_the_coverage_radius(backend):
    pts = np.random.default_rng(0).random((500, 3))
    idx = farthest_point_sampling(pts, 40, start=7, backend=backend)
    assert idx.shape == (40,) and idx.dtype == np.int64
    assert idx[0] == 7 and len(np.unique(idx)) == 40
    # every point added was the farthest one, so samples are at least the final coverage apart
    assert pdist(pts[idx]).min() >= coverage_radius(pts, idx) - 1e-6


def test_backends_agree_on_a_random_cloud():
    if not fpsample_available():
        pytest.skip("fpsample is not installed")
    pts = np.random.default_rng(1).random((2000, 2))
    a = farthest_point_sampling(pts, 100, backend="numpy")
    b = farthest_point_sampling(pts, 100, backend="fpsample")
    np.testing.assert_array_equal(a, b)
    assert fps_backend("auto") == "fpsample"


def test_all_points_is_a_permutation_and_deterministic():
    pts = np.random.default_rng(2).random((50, 2))
    idx = farthest_point_sampling(pts, 50)
    assert sorted(idx.tolist()) == list(range(50))
    np.testing.assert_array_equal(idx, farthest_point_sampling(pts, 50))
    assert coverage_radius(pts, idx) == 0.0


def test_duplicate_points_still_give_distinct_indices():
    pts = np.repeat(np.random.default_rng(3).random((10, 2)), 3, axis=0)
    idx = farthest_point_sampling(pts, 15)
    assert len(np.unique(idx)) == 15


def test_spacing_of_a_grid():
    assert spacing(grid(11)) == pytest.approx(0.1)
    even = np.flatnonzero((np.arange(121) % 11) % 2 == 0)  # every other column
    assert spacing(grid(11), even) == pytest.approx(0.1)
    assert spacing(grid(11), even[(even // 11) % 2 == 0]) == pytest.approx(0.2)


@pytest.mark.parametrize(
    "points, m, kind, match",
    [
        (np.zeros((0, 2)), 1, DataError, "empty"),
        (np.array([[0.0, np.nan], [1.0, 1.0]]), 1, DataError, "NaN"),
        (np.zeros((5, 2)), 6, DataError, "cannot pick 6 samples from a cloud of 5"),
        (np.zeros((5, 2)), 0, ConfigError, "positive integer"),
        (np.zeros(5), 1, DataError, "shape"),
    ],
)
def test_bad_input(points, m, kind, match):
    with pytest.raises(kind, match=match):
        farthest_point_sampling(points, m)


def test_bad_backend_and_start():
    with pytest.raises(ConfigError, match="backend"):
        farthest_point_sampling(np.zeros((3, 2)), 2, backend="cuda")
    with pytest.raises(ConfigError, match="start index"):
        farthest_point_sampling(np.zeros((3, 2)), 2, start=3)
