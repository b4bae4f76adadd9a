"""K-D split of a few hand-placed points, each result worked out by hand (and the KL
estimate and split scores against values computed by hand or child by child).

Most clouds here lie on the x axis (y = 0, a flat axis that gets padded), and
``n_candidates=1`` leaves one candidate cut: the middle of the node's x extent. A point
``p`` is left of a cut ``c`` when ``p < c``; the cut of the chosen candidate is then moved
to the middle of the gap between the largest left point ``a`` and the smallest right
point ``b``: ``(a + b) / 2``, or ``b`` when ``a`` and ``b`` are adjacent floats.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from graphops.decomposition import DecompositionWarning, kdtree_decompose, kl_to_uniform
from graphops.decomposition.kdtree import _split_scores, as_points, default_bins
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
        assert dec.made == 1 and dec.message.endswith("; 1 no cut leaves min_points on both sides)")
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
    # b lies on the shared face: without overlap each box has its own point only; with overlap the
    # left box's halo (clipped to the root box [a, b]) reaches b, the right box's (flat) halo does not reach a
    assert [m.tolist() for m in dec.members] == [[0], [1]] and dec.overlap == 0.0
    halo = _split(points, n_candidates=3, min_points=1, overlap=0.5)
    assert [m.tolist() for m in halo.members] == [[0, 1], [1]] and halo.overlap == 0.5


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
    # with one bin the subdomains' KL is 0 too; with the default bins the right one (which holds
    # the density jump) is not uniform
    assert _split(points, bins=1).kl.tolist() == [0.0, 0.0]
    assert _split(points, sample_size=16).kl[1] > 0.05
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
    assert dec.made == 17 and "max_depth=16" in dec.message and dec.message.endswith("; 15 fewer than 2*min_points points, 2 reached max_depth)")
    assert dec.counts().tolist() == [42 - 2 * 16] + [2] * 16
    assert _split(points, 20, n_candidates=1, min_points=2, max_depth=0).made == 1


def test_as_many_subdomains_as_points():
    dec = _split(_on_x_axis([0.0, 1.0]), 2, min_points=1)
    assert dec.made == 2 and dec.labels.tolist() == [0, 1]


def test_identical_points_say_so():
    dec = _split(np.ones((20, 2)), 2)
    assert dec.made == 1 and dec.message.endswith("; 1 all points coincide)")
    np.testing.assert_array_equal(dec.root_box, [[0.5, 0.5], [1.5, 1.5]])  # padded by 0.5
    # two blocks of coincident points: one split, then both children fail, and both are counted
    blocks = _on_x_axis([0.0] * 5 + [1.0] * 5)
    dec = _split(blocks, 4, min_points=1)
    assert dec.made == 2 and dec.counts().tolist() == [5, 5]
    assert dec.message.endswith("; 2 all points coincide)")


def test_flat_axes_are_padded_by_a_thousandth_of_the_largest_extent():
    dec = _split(_on_x_axis([0.0, 0.2, 0.5]), 1)
    np.testing.assert_array_equal(dec.root_box, [[0.0, -5e-4], [0.5, 5e-4]])
    dec = _split(_on_x_axis([0.0, 1.0, 2.0]), 1)
    np.testing.assert_array_equal(dec.root_box, [[0.0, -2e-3], [2.0, 2e-3]])


def test_equal_nodes_are_split_in_the_order_they_were_made():
    # bins=1: every priority is 0 and both halves of x = 0..7 have 4 points, so the tie goes to
    # the node made first, the left one: [0, 1] [2, 3] [4..7].
    dec = _split(_on_x_axis(np.arange(8.0)), 3, bins=1, n_candidates=1, min_points=1)
    assert dec.counts().tolist() == [2, 2, 4]


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


def test_kl_by_hand_corrected_and_not():
    box = [[0.0], [1.0]]
    # one point in 4 bins: p = (1, 0, 0, 0), KL = log 4; one occupied bin has no noise to subtract
    assert kl_to_uniform([[0.25]], bins=4, box=box, corrected=False) == pytest.approx(math.log(4), rel=1e-12)
    assert kl_to_uniform([[0.25]], bins=4, box=box) == pytest.approx(math.log(4), rel=1e-12)
    # points outside the box count in the nearest bin: (-0.5, 0.25 | 0.75) in 2 bins, p = (2/3, 1/3)
    expected = 2 / 3 * math.log(4 / 3) + 1 / 3 * math.log(2 / 3)
    assert kl_to_uniform([[-0.5], [0.25], [0.75]], bins=2, box=box, corrected=False) == pytest.approx(expected, rel=1e-12)
    # 90 points in [0, 0.5) and 10 in [0.5, 1), 2 bins: plug-in 0.9 log 1.8 + 0.1 log 0.2, minus
    # (k q + 3 sqrt(2 k)) / (2 n) with k = 2 - 1 occupied bins and q = 1 + (k + 1) / (6 n)
    xs = np.concatenate([np.linspace(0.0, 0.45, 90), np.linspace(0.5, 0.95, 10)])[:, None]
    plug_in = 0.9 * math.log(1.8) + 0.1 * math.log(0.2)
    n, k = 100, 1
    q = 1 + (k + 1) / (6 * n)
    assert kl_to_uniform(xs, bins=2, box=box, corrected=False) == pytest.approx(plug_in, rel=1e-12)
    assert kl_to_uniform(xs, bins=2, box=box) == pytest.approx(plug_in - (k * q + 3 * math.sqrt(2 * k)) / (2 * n), rel=1e-12)
    # 4 occupied bins of 4: counts (40, 30, 20, 10), k = 3
    xs = np.repeat([0.1, 0.3, 0.6, 0.9], [40, 30, 20, 10])[:, None]
    plug_in = sum(c / 100 * math.log(c / 100 * 4) for c in (40, 30, 20, 10))
    k = 3
    q = 1 + (k + 1) / (6 * n)
    assert kl_to_uniform(xs, bins=4, box=box) == pytest.approx(plug_in - (k * q + 3 * math.sqrt(2 * k)) / (2 * n), rel=1e-12)
    # all 100 points in one bin of 2: KL = log 2 and nothing to subtract
    assert kl_to_uniform(xs[:40], bins=2, box=box) == pytest.approx(math.log(2), rel=1e-12)


def _children_score(points, axis, cut, bins, corrected=True):
    """(|L| KL(L) + |R| KL(R)) / |D| with L the points left of the cut, each child in its own box."""
    left, right = points[points[:, axis] < cut], points[points[:, axis] >= cut]
    total = sum(len(side) * kl_to_uniform(side, bins=bins, corrected=corrected) for side in (left, right) if len(side))
    return total / len(points)


@pytest.mark.parametrize("flat_x", [False, True])
def test_split_scores_with_points_on_cuts_empty_and_single_point_slabs(flat_x):
    # y = 0, 1/8, ..., 1 (9 rows), five points per row but only one at y = 0 and at y = 1/8, and
    # none at y = 5/8 and 6/8; the cuts 1/8 .. 7/8 sit exactly on rows, -1 and 2 leave a side empty
    # (the lone point at y = 0 is the only point left of the cut 1/8)
    rng = np.random.default_rng(5)
    rows = [j / 8 for j in range(9) if j not in (5, 6)]
    points = [[rng.uniform(0, 0.3), y] for y in rows for _ in range(1 if y in (0, 1 / 8) else 5)]
    points = np.array(points + [[0.05, 0.9], [0.25, 0.95], [0.15, 0.97]])
    if flat_x:  # every child is flat along x (one bin there), split along y
        points[:, 0] = 0.5
    cuts = np.array([-1.0] + [j / 8 for j in range(1, 8)] + [2.0])
    for bins in (None, 2, 3):
        for corrected in (True, False):  # uncorrected, no score is clipped to 0
            scores = _split_scores(np.ascontiguousarray(points.T), 1, cuts, bins, corrected=corrected)
            expected = [_children_score(points, 1, c, bins, corrected) for c in cuts]
            np.testing.assert_allclose(scores, expected, rtol=1e-9, atol=1e-12)
    # one side empty: the score is the KL of the whole node
    assert scores[0] == pytest.approx(kl_to_uniform(points, bins=3, corrected=False), rel=1e-9)
    assert scores[0] > 0.02


def test_points_and_bins_types():
    assert as_points([[0, 1], [2, 3]]).dtype == np.float64
    grad = torch.ones(3, 2, requires_grad=True)
    np.testing.assert_array_equal(as_points(grad), np.ones((3, 2)))
    assert isinstance(default_bins(800, 2), int) and default_bins(800, 2) == 10
    bins = default_bins(np.array([8, 800]), 2)
    assert bins.dtype == np.int64 and bins.tolist() == [1, 10]
