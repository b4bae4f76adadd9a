"""The unit cell with one small circular hole and a mesh graded strongly towards it."""
import numpy as np
import pytest
from scipy.spatial import cKDTree

from graphops.errors import ConfigError
from graphops.geometry.small_hole import small_hole, unit_cell_with_small_hole


def test_hole_radius_and_centre_ranges():
    for seed in range(20):
        centre, r = small_hole(seed, 0.002, jitter=0.02)
        assert np.all(np.abs(centre - 0.5) <= 0.02)
        assert 0.006 <= r <= 0.012


@pytest.mark.parametrize("grading", [10.0, 30.0])
def test_hole_nodes_on_the_circle_and_spacing_graded_by_the_factor(grading):
    h = 0.05
    mesh = unit_cell_with_small_hole(2, mesh_size=h, grading=grading)
    centre, r = small_hole(2, h / grading)
    hole = mesh.points[mesh.group("void").nodes()]
    assert np.allclose(np.linalg.norm(hole - centre, axis=1), r, rtol=0.02)
    spacing = cKDTree(mesh.points).query(mesh.points, k=2)[0][:, 1]
    far = np.linalg.norm(mesh.points - 0.5, axis=1) > 0.6
    ratio = np.median(spacing[far]) / np.median(spacing[mesh.group("void").nodes()])
    assert grading / 2.5 < ratio < grading * 2.5


@pytest.mark.parametrize("kwargs", [{"grading": 0.5}, {"grading": float("nan")}, {"jitter": 0.5}])
def test_bad_options(kwargs):
    with pytest.raises(ConfigError):
        unit_cell_with_small_hole(0, **kwargs)
