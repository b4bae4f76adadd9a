"""The elasticity unit cell with a random void and a graded mesh."""
import numpy as np
from scipy.spatial import cKDTree

from graphops.geometry import unit_cell_with_void, void_radius


def test_void_radius_range_and_centre():
    for seed in range(20):
        centre, r = void_radius(seed)
        assert np.all(np.abs(centre - 0.5) <= 0.05)
        assert r.min() > 0.2 and r.max() < 0.4


def test_groups_and_graded_nodes():
    mesh = unit_cell_with_void(3, mesh_size=0.05)
    assert {"bottom", "top", "left", "right", "void", "domain"} <= set(mesh.groups)
    bottom = mesh.points[mesh.group("bottom").nodes()]
    assert np.allclose(bottom[:, 1], 0.0)
    top = mesh.points[mesh.group("top").nodes()]
    assert np.allclose(top[:, 1], 1.0)
    # node spacing near the void is much finer than in the corners: a non-uniform point cloud
    spacing, _ = cKDTree(mesh.points).query(mesh.points, k=2)
    spacing = spacing[:, 1]
    void_nodes = mesh.group("void").nodes()
    corner = np.linalg.norm(mesh.points - 0.5, axis=1) > 0.6
    assert np.median(spacing[corner]) > 2.0 * np.median(spacing[void_nodes])


def test_reproducible():
    a, b = unit_cell_with_void(9, 0.1), unit_cell_with_void(9, 0.1)
    assert np.array_equal(a.points, b.points) and np.array_equal(a.cells["triangle"], b.cells["triangle"])
