"""The BENO cut-out squares: protocol, physical groups, reproducibility."""
import numpy as np
import pytest

from graphops.errors import ConfigError
from graphops.geometry import cutout_polygon, cutout_square, sample_cutouts


def _area(mesh):
    p = mesh.points[mesh.cells["triangle"]]
    a, b = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    return 0.5 * np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum()


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
def test_k_cutouts_at_distinct_corners_with_sizes_in_range(k):
    cuts = sample_cutouts(seed=11, num_cutouts=k)
    assert len(cuts) == k
    assert len({c.corner for c in cuts}) == k
    for c in cuts:
        assert 0.1 <= c.width <= 0.4 and 0.1 <= c.height <= 0.4
    mesh = cutout_square(11, mesh_size=0.08, num_cutouts=k)
    assert _area(mesh) == pytest.approx(1.0 - sum(c.width * c.height for c in cuts), rel=1e-12)
    points, is_cut = cutout_polygon(cuts)
    assert len(points) == 4 + 2 * k and is_cut.sum() == 2 * k
    assert set(mesh.groups) == ({"domain", "outer", "cutout"} if k else {"domain", "outer"})


def test_groups_split_the_boundary_between_outer_sides_and_cutout_sides():
    mesh = cutout_square(3, mesh_size=0.05, num_cutouts=4)
    outer = mesh.points[mesh.group("outer").nodes()]
    # every outer node lies on a side of the unit square
    on_side = np.isclose(outer, 0.0) | np.isclose(outer, 1.0)
    assert on_side.any(axis=1).all()
    cut_lines = mesh.group("cutout").cells["line"]
    mid = mesh.points[cut_lines].mean(axis=1)
    # cut-out sides run inside the square, never along its sides
    assert not (np.isclose(mid, 0.0) | np.isclose(mid, 1.0)).any()


def test_same_seed_same_mesh_and_geometry_independent_of_mesh_size():
    a, b = cutout_square(5, 0.05, None), cutout_square(5, 0.05, None)
    assert np.array_equal(a.points, b.points)
    assert np.array_equal(a.cells["triangle"], b.cells["triangle"])
    assert all(np.array_equal(a.groups[n].cells["line"], b.groups[n].cells["line"]) for n in ("outer",))
    assert not np.array_equal(cutout_square(6, 0.05, 4).points[:50], cutout_square(7, 0.05, 4).points[:50])
    assert _area(cutout_square(5, 0.1, 3)) == pytest.approx(_area(cutout_square(5, 0.04, 3)), rel=1e-12)


def test_mesh_size_controls_node_count_and_refinement_splits_triangles():
    coarse = cutout_square(1, 0.1, 4)
    fine = cutout_square(1, 0.05, 4)
    assert 2.5 < fine.num_points / coarse.num_points < 5.5
    refined = cutout_square(1, 0.1, 4, refinements=1)
    assert refined.num_cells() == 4 * coarse.num_cells()


@pytest.mark.parametrize("kwargs", [{"num_cutouts": 5}, {"num_cutouts": -1}, {"mesh_size": 0.0},
                                    {"mesh_size": "big"}, {"size_range": (0.3, 0.6)}, {"extent": (1.0, 0.0)},
                                    {"extent": (float("nan"), 1.0)}])
def test_bad_arguments_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        cutout_square(0, **{"mesh_size": 0.1, **kwargs})


def test_extent_stretches_the_domain_and_its_cutouts_but_not_the_elements():
    square = cutout_square(3, mesh_size=0.1, num_cutouts=2)
    wide = cutout_square(3, mesh_size=0.1, num_cutouts=2, extent=(2.0, 0.5))
    np.testing.assert_allclose(wide.points[:, :2].min(axis=0), [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(wide.points[:, :2].max(axis=0), [2.0, 0.5], atol=1e-12)
    # the cut-out corners are the square's polygon scaled by the extent
    polygon, _ = cutout_polygon(sample_cutouts(3, 2))
    for corner in polygon * [2.0, 0.5]:
        assert np.min(np.linalg.norm(wide.points[:, :2] - corner, axis=1)) < 1e-9
    # same element size: the area of the cut-out domain is the same, so the node counts are close
    assert 0.8 < wide.num_points / square.num_points < 1.25
