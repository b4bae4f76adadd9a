import itertools
import math
import warnings

import numpy as np
import pytest
import torch

from graphops.decomposition import Decomposition, DecompositionWarning, kdtree_decompose, kl_to_uniform
from graphops.decomposition.kdtree import _split_scores, default_bins
from graphops.errors import DataError


def _uniform(n, d, seed=0, lo=0.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, size=(n, d))


def _two_clusters(d, n=3000, seed=0):
    """Uniform points in x in [0, 0.3] and [0.7, 1]; the other axes span [0, 0.5] (x is the longest axis)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(2 * n, d))
    x[:, 1:] *= 0.5
    x[:n, 0] *= 0.3
    x[n:, 0] = 0.7 + 0.3 * x[n:, 0]
    return x


def _no_warnings_decompose(*args, **kwargs) -> Decomposition:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DecompositionWarning)
        return kdtree_decompose(*args, **kwargs)


# ---------------------------------------------------------------- KL estimate


@pytest.mark.parametrize("d", [2, 3])
def test_uniform_cloud_kl_small_and_decreasing(d):
    plug_in = [kl_to_uniform(_uniform(n, d, seed=n), bins=6, corrected=False) for n in (1000, 10000, 100000)]
    assert plug_in[0] > plug_in[1] > plug_in[2] > 0
    assert plug_in[2] < 2e-3
    # the noise-corrected estimate with the default bins is 0 (up to chance) at every size
    for n in (1000, 10000, 100000):
        assert kl_to_uniform(_uniform(n, d, seed=n)) < 0.02


@pytest.mark.parametrize("d", [2, 3])
def test_kl_of_half_filled_box_is_log2(d):
    x = _uniform(50000, d, seed=1)
    x[:, 0] *= 0.5
    box = np.stack([np.zeros(d), np.ones(d)])
    assert kl_to_uniform(x, bins=10, box=box) == pytest.approx(math.log(2), abs=0.01)
    assert kl_to_uniform(x, bins=10) < 0.01  # in its own bounding box it is uniform


def test_default_bins_about_eight_points_per_bin_and_capped():
    assert default_bins(8 * 10**2, 2) == 10
    assert default_bins(8 * 10**3, 3) == 10
    assert default_bins(5, 2) == 1
    assert default_bins(10**9, 3) == 32
    assert default_bins(10**9, 2) ** 2 <= 32768
    np.testing.assert_array_equal(default_bins(np.array([800, 8000]), 2), [10, 31])


@pytest.mark.parametrize("d", [2, 3])
def test_vectorised_split_scores_match_direct_children_kl(d):
    rng = np.random.default_rng(3)
    x = rng.beta(0.7, 2.0, size=(1500, d))
    axis = 1
    lo, hi = x[:, axis].min(), x[:, axis].max()
    cuts = lo + (hi - lo) * np.arange(1, 9) / 9
    for bins in (None, 4):
        scores = _split_scores(np.ascontiguousarray(x.T), axis, cuts, bins)
        for k, c in enumerate(cuts):
            left, right = x[x[:, axis] < c], x[x[:, axis] >= c]
            expected = (len(left) * kl_to_uniform(left, bins=bins) + len(right) * kl_to_uniform(right, bins=bins)) / len(x)
            assert scores[k] == pytest.approx(expected, rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------- the split criterion


@pytest.mark.parametrize("d", [2, 3])
def test_first_split_falls_in_the_gap_between_two_clusters(d):
    x = _two_clusters(d)
    assert kl_to_uniform(x) > 0.3
    dec = _no_warnings_decompose(x, 2)
    left, right = dec.boxes
    assert left[1, 0] == right[0, 0]  # cut along x
    assert 0.3 < left[1, 0] < 0.7
    assert left[1, 0] == pytest.approx(0.5, abs=0.01)  # moved to the middle of the gap
    np.testing.assert_array_equal(dec.counts(), [3000, 3000])
    assert (dec.kl < 0.01).all()
    assert (x[dec.labels == 0, 0] <= 0.3).all()


@pytest.mark.parametrize("d", [2, 3])
def test_split_at_a_density_jump_not_at_the_median(d):
    rng = np.random.default_rng(4)
    dense = rng.uniform(size=(8000, d))
    dense[:, 0] *= 0.2
    sparse = rng.uniform(size=(2000, d))
    sparse[:, 0] = 0.2 + 0.8 * sparse[:, 0]
    x = np.vstack([dense, sparse])
    x[:, 1:] *= 0.8  # x is the longest axis
    dec = _no_warnings_decompose(x, 2)
    cut = dec.boxes[0, 1, 0]
    assert dec.boxes[1, 0, 0] == cut
    assert abs(cut - 0.2) < 0.035  # candidates are 1/33 apart; the median would be near 0.12
    assert (dec.kl < 0.05).all()


def test_highest_priority_node_is_split_first():
    # a uniform block and a block with a hole: the second split must go to the non-uniform one
    rng = np.random.default_rng(5)
    a = rng.uniform(size=(4000, 2)) * [0.4, 1.0]
    b = rng.uniform(size=(12000, 2)) * [0.4, 1.0]
    b = b[(b[:, 1] < 0.3) | (b[:, 1] > 0.7)][:4000]
    b[:, 0] += 0.6
    dec = _no_warnings_decompose(np.vstack([a, b]), 3)
    assert dec.made == 3
    on_right = dec.boxes[:, 0, 0] >= 0.4
    assert on_right.sum() == 2  # the holed block got split (along y, through the hole)
    right = dec.boxes[on_right]
    assert np.allclose(right[0, 1, 1], 0.5, atol=0.05) or np.allclose(right[1, 1, 1], 0.5, atol=0.05)


def test_uniform_cloud_splits_are_balanced():
    dec = _no_warnings_decompose(_uniform(20000, 2, seed=6), 4)
    counts = dec.counts()
    assert counts.min() > 0.6 * counts.max()


# ---------------------------------------------------------------- counts and tiling


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("n_sub", [1, 2, 5, 8, 13])
def test_exactly_the_requested_number_of_subdomains(d, n_sub):
    x = np.random.default_rng(n_sub).normal(size=(3000, d)) ** 3
    dec = _no_warnings_decompose(x, n_sub)
    assert dec.made == dec.requested == n_sub == len(dec.members) == dec.num_subdomains
    assert dec.boxes.shape == (n_sub, 2, d)
    assert dec.message is None
    assert dec.counts().min() >= 8


def test_min_points_too_large_gives_fewer_with_a_warning():
    x = _uniform(100, 2, seed=7)
    with pytest.warns(DecompositionWarning, match=r"made \d of the 8 requested subdomains") as rec:
        dec = kdtree_decompose(x, 8, min_points=30)
    assert 2 <= dec.made < 8 == dec.requested
    assert f"made {dec.made} of the 8" in str(rec[0].message) and dec.message == str(rec[0].message)
    assert "min_points=30" in dec.message
    assert dec.counts().min() >= 30
    assert len(dec.boxes) == len(dec.members) == dec.made


def test_max_depth_limits_the_count():
    with pytest.warns(DecompositionWarning, match="made 4 of the 8"):
        dec = kdtree_decompose(_uniform(5000, 3, seed=8), 8, max_depth=2)
    assert dec.made == 4
    assert "reached max_depth" in dec.message


def test_identical_points_cannot_be_split():
    with pytest.warns(DecompositionWarning, match="made 1 of the 3"):
        dec = kdtree_decompose(np.ones((50, 3)), 3)
    assert dec.made == 1 and (dec.labels == 0).all()
    assert (dec.boxes[0, 1] > dec.boxes[0, 0]).all()  # padded to a real box


def _check_tiling(x: np.ndarray, dec: Decomposition) -> None:
    n, d = x.shape
    root = dec.root_box
    np.testing.assert_allclose(root[0], x.min(0))
    np.testing.assert_allclose(root[1], x.max(0))
    vol = np.prod(dec.boxes[:, 1] - dec.boxes[:, 0], axis=1)
    assert vol.sum() == pytest.approx(np.prod(root[1] - root[0]), rel=1e-12)
    for a, b in itertools.combinations(range(dec.made), 2):  # interiors are disjoint
        inter = np.minimum(dec.boxes[a, 1], dec.boxes[b, 1]) - np.maximum(dec.boxes[a, 0], dec.boxes[b, 0])
        assert (inter <= 0).any()
    assert ((dec.boxes >= root[0] - 1e-15) & (dec.boxes <= root[1] + 1e-15)).all()
    own = dec.boxes[dec.labels]
    assert ((x >= own[:, 0]) & (x <= own[:, 1])).all()  # each point inside its owner's box
    np.testing.assert_array_equal(np.sort(np.concatenate(dec.members)), np.arange(n))  # owned exactly once
    for s, m in enumerate(dec.members):
        np.testing.assert_array_equal(m, np.flatnonzero(dec.labels == s))
    np.testing.assert_array_equal(dec.locate(x), dec.labels)


@pytest.mark.parametrize("d", [2, 3])
def test_boxes_tile_the_root_box_and_labels_match(d):
    x = np.random.default_rng(9).standard_t(3, size=(4000, d))
    dec = _no_warnings_decompose(x, 11)
    _check_tiling(x, dec)


def test_mesh_nodes_decomposition(holes_mesh):
    x = holes_mesh.points[:, :2]
    dec = _no_warnings_decompose(x, 6, min_points=4)
    _check_tiling(x, dec)


def test_locate_outside_points_go_to_the_adjacent_box():
    x = _two_clusters(2)
    dec = _no_warnings_decompose(x, 2)
    np.testing.assert_array_equal(dec.locate([[-5.0, 0.2], [5.0, 0.2], [0.45, 9.0]]), [0, 1, 0])


@pytest.mark.parametrize("d", [2, 3])
def test_overlap_adds_a_halo(d):
    x = _uniform(3000, d, seed=10)
    dec = _no_warnings_decompose(x, 4, overlap=0.1)
    span = dec.boxes[:, 1] - dec.boxes[:, 0]
    grown = np.clip(np.stack([dec.boxes[:, 0] - 0.1 * span, dec.boxes[:, 1] + 0.1 * span], 1), *dec.root_box)
    np.testing.assert_allclose(dec.halo_boxes, grown)
    for s, m in enumerate(dec.members):
        inside = np.flatnonzero(np.all((x >= dec.halo_boxes[s, 0]) & (x <= dec.halo_boxes[s, 1]), axis=1))
        np.testing.assert_array_equal(m, inside)
        assert set(np.flatnonzero(dec.labels == s)) <= set(m)
    assert dec.member_counts().sum() > len(x)
    assert np.bincount(dec.labels).sum() == len(x)


def test_sampled_scoring_is_deterministic_and_valid():
    x = np.random.default_rng(11).normal(size=(6000, 3))
    a = _no_warnings_decompose(x, 7, sample_size=500)
    b = _no_warnings_decompose(x, 7, sample_size=500)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    _check_tiling(x, a)


def test_accepts_lists_and_tensors():
    x = _uniform(200, 2, seed=12)
    ref = _no_warnings_decompose(x, 3)
    np.testing.assert_array_equal(_no_warnings_decompose(x.tolist(), 3).labels, ref.labels)
    np.testing.assert_array_equal(_no_warnings_decompose(torch.from_numpy(x).float(), 3).made, 3)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "points, n_sub, match",
    [
        (np.zeros(10), 2, r"shape \(N, 2\) or \(N, 3\), got shape \(10,\)"),
        (np.zeros((10, 4)), 2, r"got shape \(10, 4\)"),
        (np.zeros((10, 1)), 2, r"got shape \(10, 1\)"),
        (np.zeros((0, 2)), 1, "empty"),
        (np.array([["a", "b"]]), 1, "numeric"),
        (np.array([[0.0, 1.0], [np.nan, 0.0], [1.0, 1.0]]), 1, r"1 row\(s\) with NaN or infinite coordinates \(first at row 1\)"),
        (np.array([[0.0, 1.0, 0.0], [1.0, np.inf, 0.0]]), 1, "NaN or infinite"),
        (np.zeros((10, 2)), 0, "n_subdomains must be at least 1"),
        (np.zeros((10, 2)), -3, "n_subdomains must be at least 1"),
        (np.zeros((10, 2)), 2.5, "n_subdomains must be an integer"),
        (np.zeros((10, 2)), True, "n_subdomains must be an integer"),
        (np.random.default_rng(0).uniform(size=(5, 3)), 6, "cannot make 6 subdomains from 5 points"),
    ],
)
def test_bad_input_raises_data_error(points, n_sub, match):
    with pytest.raises(DataError, match=match):
        kdtree_decompose(points, n_sub)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"overlap": -0.1}, "overlap"),
        ({"overlap": float("nan")}, "overlap"),
        ({"min_points": 0}, "min_points"),
        ({"max_depth": -1}, "max_depth"),
        ({"bins": 0}, "bins"),
        ({"n_candidates": 0}, "n_candidates"),
    ],
)
def test_bad_parameters_raise_data_error(kwargs, match):
    with pytest.raises(DataError, match=match):
        kdtree_decompose(_uniform(50, 2), 2, **kwargs)
