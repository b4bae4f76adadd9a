import numpy as np
import pytest

from graphops.decomposition import GridSpec, decomposition_grids, grid_shape, kdtree_decompose, make_grids
from graphops.errors import DataError


def test_shape_follows_the_aspect_ratio_2d():
    assert grid_shape([2.0, 1.0], 800) == (40, 20)
    assert grid_shape([2.0, 1.0], 800, oversampling=4.0) == (80, 40)


def test_shape_follows_the_aspect_ratio_3d():
    assert grid_shape([1.0, 2.0, 4.0], 512) == (4, 8, 16)
    shape = grid_shape([0.3, 0.7, 1.1], 10000, oversampling=2.0)
    assert np.prod(shape) == pytest.approx(20000, rel=0.1)
    ratios = np.asarray(shape) / np.array([0.3, 0.7, 1.1])
    assert ratios.max() / ratios.min() < 1.15


def test_thin_axes_keep_two_nodes_and_the_others_share_the_budget():
    assert grid_shape([1.0, 1e-4], 1000) == (500, 2)
    assert grid_shape([1.0, 1e-4, 1e-4], 1000) == (250, 2, 2)
    assert grid_shape([1.0, 1.0], 0) == (2, 2)


def test_min_and_max_size():
    assert grid_shape([1.0, 1.0], 100, min_size=16) == (16, 16)
    assert grid_shape([1.0, 1.0], 10**6, max_size=64) == (64, 64)


@pytest.mark.parametrize("d", [2, 3])
def test_nodes_include_both_corners_in_c_order(d):
    lower, upper = np.arange(d) * 0.1 - 1.0, np.arange(d) * 0.3 + 0.7
    shape = (5, 3, 4)[:d]
    g = GridSpec(lower, upper, shape)
    axes = g.axes()
    for j in range(d):
        assert axes[j][0] == lower[j] and axes[j][-1] == upper[j]
        np.testing.assert_allclose(np.diff(axes[j]), g.spacing[j])
    nodes = g.nodes().reshape(*shape, d)
    assert g.size == np.prod(shape) and g.dim == d
    idx = tuple(s - 2 for s in shape)
    np.testing.assert_array_equal(nodes[idx], [axes[j][idx[j]] for j in range(d)])
    np.testing.assert_array_equal(g.box, np.stack([lower, upper]))


def test_make_grids_own_common_and_given_shapes():
    boxes = np.array([[[0, 0], [4, 1]], [[4, 0], [5, 3]]], dtype=float)
    counts = [400, 300]
    own = make_grids(boxes, counts)
    assert own[0].shape == (40, 10) and own[1].shape == (10, 30)
    common = make_grids(boxes, counts, common_shape=True)
    assert [g.shape for g in common] == [(40, 30), (40, 30)]
    np.testing.assert_array_equal(common[1].lower, [4, 0])
    mean = make_grids(boxes, counts, common_shape="mean")
    assert [g.shape for g in mean] == [(20, 17), (20, 17)]  # sqrt(40 * 10) = 20, sqrt(10 * 30) = 17.3
    given = make_grids(boxes, counts, 2.0, common_shape=(16, 8))
    assert [g.shape for g in given] == [(16, 8), (16, 8)]


@pytest.mark.parametrize("d", [2, 3])
def test_decomposition_grids_cover_the_members(d):
    x = np.random.default_rng(0).uniform(size=(4000, d))
    dec = kdtree_decompose(x, 5, overlap=0.2)
    grids = decomposition_grids(dec, oversampling=2.0)
    for s, g in enumerate(grids):
        np.testing.assert_array_equal(g.box, dec.halo_boxes[s])
        members = x[dec.members[s]]
        assert ((members >= g.lower) & (members <= g.upper)).all()
        assert g.size == pytest.approx(2.0 * len(dec.members[s]), rel=0.35)
    owned = decomposition_grids(dec, halo=False, common_shape=True)
    assert len({g.shape for g in owned}) == 1
    for s, g in enumerate(owned):
        np.testing.assert_array_equal(g.box, dec.boxes[s])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: GridSpec([0, 0], [1, 0], (3, 3)), "upper > lower"),
        (lambda: GridSpec([0, 0], [1, 1], (3, 1)), "at least 2 nodes"),
        (lambda: GridSpec([0, 0], [1, 1], (3, 3, 3)), "disagree"),
        (lambda: GridSpec([0, np.nan], [1, 1], (3, 3)), "finite"),
        (lambda: grid_shape([1.0, 0.0], 10), "positive"),
        (lambda: grid_shape([1.0, 1.0], 10, oversampling=0.0), "oversampling"),
        (lambda: grid_shape([1.0, 1.0], 10, min_size=1), "min_size"),
        (lambda: make_grids(np.zeros((2, 3)), [1, 2]), r"shape \(S, 2, d\)"),
        (lambda: make_grids(np.array([[[0, 0], [1, 1]]]), [1, 2]), "2 point counts for 1 boxes"),
        (lambda: make_grids(np.array([[[0, 0], [1, 1]]]), [1], common_shape=(4,)), "common_shape"),
        (lambda: make_grids(np.array([[[0, 0], [1, 1]]]), [1], common_shape="max"), "common_shape"),
    ],
)
def test_bad_grid_input(call, match):
    with pytest.raises(DataError, match=match):
        call()
