"""K-D split of a few hand-placed points, each result worked out by hand.

Most clouds here lie on the x axis (y = 0, a flat axis that gets padded), and
``n_candidates=1`` leaves one candidate cut: the middle of the node's x extent. A point
``p`` is left of a cut ``c`` when ``p < c``; the cut of the chosen candidate is then moved
to the middle of the gap between the largest left point ``a`` and the smallest right
point ``b``: ``(a + b) / 2``, or ``b`` when ``a`` and ``b`` are adjacent floats.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from graphops.decomposition import DecompositionWarning, kdtree_decompose, kl_to_uniform
from graphops.errors import DataError


def _on_x_axis(xs) -> np.ndarray:
    return np.stack([np.asarray(xs, dtype=np.float64), np.zeros(len(xs))], axis=1)


def _split(points, n_sub=2, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DecompositionWarning)
        return kdtree_decompose(points, n_sub, **kwargs)


# xs, min_points -> the left child (None: no split) and the moved cut
HAND_SPLITS = [
    ([0.0, 0.6, 0.7, 1.0], 1, [0.0], 0.3),  # one point on the left is enough for min_points=1
    ([0.0, 0.1, 0.2, 1.0], 1, [0.0, 0.1, 0.2], 0.6),  # one point on the right too
    ([0.0, 0.1, 0.6, 0.7, 0.8, 1.0], 2, [0.0, 0.1], 0.35),  # exactly min_points on the left
    ([0.0, 0.2, 0.3, 0.4, 0.9, 1.0], 2, [0.0, 0.2, 0.3, 0.4], 0.65),  # exactly min_points on the right
    ([0.0, 0.1, 0.5, 0.6, 0.8, 1.0], 3, None, None),  # the point on the cut is right of it: 2 < 3 on the left
    ([0.0, 0.25, 0.5, 0.75, 1.0], 1, [0.0, 0.25], 0.375),  # the point on the cut goes right
]


@pytest.mark.parametrize("xs, min_points, left, cut", HAND_SPLITS)
def test_one_candidate_split_by_hand(xs, min_points, left, cut):
    points = _on_x_axis(xs)
    dec = _split(points, n_candidates=1, min_points=min_points)
    if left is None:
        assert dec.made == 1 and "no cut leaves min_points on both sides" in dec.message
        return
    assert dec.made == 2
    np.testing.assert_array_equal(dec.labels, [0 if x in left else 1 for x in xs])
    assert dec.boxes[0, 1, 0] == pytest.approx(cut, abs=1e-15) and dec.boxes[1, 0, 0] == pytest.approx(cut, abs=1e-15)
    assert dec.boxes[0, 0, 0] == 0.0 and dec.boxes[1, 1, 0] == 1.0
    np.testing.assert_array_equal(dec.locate(points), dec.labels)
    assert dec.locate(points).dtype == np.int64
    # a query point exactly on the cut is right of it
    assert dec.locate(np.array([[dec.boxes[0, 1, 0], 0.0]])).tolist() == [1]


def test_adjacent_floats_are_cut_at_the_right_point():
    # Far from zero the floats are 2 apart: x = 2**53 and 2**53 + 2. Of the three candidates
    # 2**53 + 0.5, + 1, + 1.5 the first two round to 2**53 (the left point, no point left of it)
    # and the last to 2**53 + 2; the middle of the gap rounds back to 2**53, so the cut is b.
    a = 2.0**53
    b = np.nextafter(a, np.inf)
    assert b == a + 2
    points = _on_x_axis([a, b])
    dec = _split(points, n_candidates=3, min_points=1)
    assert dec.made == 2
    assert dec.labels.tolist() == [0, 1]
    assert dec.boxes[0, 1, 0] == b and dec.boxes[1, 0, 0] == b
    np.testing.assert_array_equal(dec.locate(points), [0, 1])


def test_a_single_candidate_is_the_middle_of_the_box():
    # A uniform 8 x 8 grid (x = 0, 1/8, ..., 7/8; y in [0, 0.7]) plus 32 points on the line x = 1.
    # Cutting at x = 1 would leave two uniform children (score 0), but the only candidate is
    # x = 0.5; its left neighbour is 3/8 and its right one 4/8, so the cut is 7/16.
    grid = np.array([[i / 8, j / 10] for i in range(8) for j in range(8)])
    line = np.stack([np.ones(32), np.linspace(0.0, 0.7, 32)], axis=1)
    points = np.concatenate([grid, line])
    dec = _split(points, n_candidates=1, min_points=1)
    assert dec.made == 2
    assert dec.boxes[0, 1, 0] == pytest.approx(7 / 16, abs=1e-15)
    np.testing.assert_array_equal(dec.labels, (points[:, 0] >= 0.5).astype(np.int64))  # x = 0.5 goes right


def test_one_bin_makes_every_kl_zero_and_the_cut_the_most_balanced():
    # bins=1: every histogram has one bin, so every KL is 0 and every score ties; the cut is the
    # most balanced of the default 32 candidates k/33. On x = i/100 (i = 0..100), k = 16 (16/33 =
    # 0.4848: 49 left, 52 right) and k = 17 (0.5152: 52 left, 49 right) tie; the first wins, and
    # the cut moves to the middle of 0.48 and 0.49.
    xs = np.arange(101) / 100
    dec = _split(_on_x_axis(xs), bins=1)
    assert dec.made == 2
    assert dec.boxes[0, 1, 0] == pytest.approx(0.485, abs=1e-12)
    assert dec.counts().tolist() == [49, 52]
    assert dec.kl == pytest.approx([0.0, 0.0], abs=1e-12)


def _jump_cloud():
    """800 points uniform in x in [0, 0.2] and 200 in [0.2, 1] (y in [0, 0.5])."""
    rng = np.random.default_rng(4)
    x = rng.uniform(size=(1000, 2)) * [1.0, 0.5]
    x[:800, 0] *= 0.2
    x[800:, 0] = 0.2 + 0.8 * x[800:, 0]
    return x


def test_bins_and_the_sample_size_reach_the_split_scores():
    points = _jump_cloud()
    # default: the cut falls at the density jump x = 0.2 (the dense part is uniform, so is the rest)
    assert abs(_split(points).boxes[0, 1, 0] - 0.2) < 0.05
    # bins=1, or scoring on 16 sampled points (children of < 32 points get one bin per axis):
    # every score is 0 and the cut is the most balanced candidate, the one nearest the median
    # x (about 0.125): of the candidates lo + (hi - lo) k / 33, the one with |n_left - n_right| least
    lo, hi = points[:, 0].min(), points[:, 0].max()
    n_left = [(points[:, 0] < lo + (hi - lo) * k / 33).sum() for k in range(1, 33)]
    most_balanced = min(n_left, key=lambda m: abs(2 * m - len(points)))
    assert abs(most_balanced - 500) < 100
    for kwargs in (dict(bins=1), dict(sample_size=16)):
        dec = _split(points, **kwargs)
        assert dec.counts()[0] == most_balanced, kwargs
    assert _split(points, sample_size=16).boxes[0, 1, 0] == _split(points, sample_size=16, seed=0).boxes[0, 1, 0]


def test_default_min_points_is_8():
    points = _on_x_axis(np.arange(16) / 15)
    assert _split(points).made == 2  # 16 points = 2 * 8: one split
    assert _split(points[:15]).made == 1


def test_default_max_depth_is_16():
    # x = 0 and 2**-k (k = 0..40): with one candidate, each split cuts the left node [0, 2**-j] at
    # 2**-(j+1), a point, which goes right with 2**-j (a pair: too small to split with min_points=2);
    # the left chain gets one level deeper per split. Depth 16 is never split: 16 splits, 17 subdomains
    # (15 pairs too small, the last pair and the chain both at depth 16).
    points = _on_x_axis([0.0] + [2.0**-k for k in range(41)])
    dec = _split(points, 20, n_candidates=1, min_points=2)
    assert dec.made == 17 and "max_depth=16" in dec.message and "15 fewer than 2*min_points points, 2 reached max_depth" in dec.message
    assert dec.counts().tolist() == [42 - 2 * 16] + [2] * 16
    assert _split(points, 20, n_candidates=1, min_points=2, max_depth=0).made == 1


def test_as_many_subdomains_as_points():
    dec = _split(_on_x_axis([0.0, 1.0]), 2, min_points=1)
    assert dec.made == 2 and dec.labels.tolist() == [0, 1]


def test_identical_points_say_so():
    dec = _split(np.ones((20, 2)), 2)
    assert dec.made == 1 and "all points coincide" in dec.message


def test_parameter_errors_name_the_parameter():
    points = _on_x_axis(np.arange(40) / 39)
    with pytest.raises(DataError, match="sample_size must be at least 16"):
        kdtree_decompose(points, 2, sample_size=8)
    _split(points, sample_size=16)  # 16 is allowed
    with pytest.raises(DataError, match="bins must be"):
        kdtree_decompose(points, 2, bins=0)
    with pytest.raises(DataError, match="bins must be"):
        kl_to_uniform(points, bins=0)


def test_locate_checks_the_dimension():
    dec = _split(_on_x_axis(np.arange(20) / 19))
    with pytest.raises(DataError, match=r"\(N, 2\)"):
        dec.locate(np.zeros((3, 3)))


def test_kl_of_a_one_dimensional_cloud_and_its_box():
    # Points filling the left half of [0, 1] with 2 bins: p = (1, 0), KL = log 2 (uncorrected).
    xs = np.array([[0.0], [0.1], [0.2], [0.3], [0.4], [0.45]])
    assert kl_to_uniform(xs, bins=2, box=[[0.0], [1.0]], corrected=False) == pytest.approx(np.log(2), rel=1e-12)
    # a flat box axis is allowed (one bin there)
    flat = np.array([[0.0, 0.5], [1.0, 0.5]])
    assert kl_to_uniform(flat, bins=2, box=[[0.0, 0.5], [1.0, 0.5]], corrected=False) == pytest.approx(0.0, abs=1e-15)
    for box in ([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], [[1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [np.inf, 1.0]]):
        with pytest.raises(DataError, match="box must be"):
            kl_to_uniform(flat, box=box)
