"""Boundary extraction checked against exact answers on a square, disk, cube and holes."""
import numpy as np
import pytest

from graphops.boundary import boundary_facets, boundary_features, boundary_nodes, boundary_normals, distance_to_boundary
from graphops.errors import MeshError
from graphops.mesh import Mesh


def _on_square_boundary(p, lo=0.0, hi=1.0, tol=1e-9):
    return np.any(np.isclose(p, lo, atol=tol) | np.isclose(p, hi, atol=tol), axis=1)


@pytest.mark.parametrize("fixture", ["square_mesh", "quad_mesh", "mixed_mesh"])
def test_square_boundary_nodes_and_normals(fixture, request):
    mesh = request.getfixturevalue(fixture)
    mask = boundary_nodes(mesh)
    np.testing.assert_array_equal(mask, _on_square_boundary(mesh.points))
    normals = boundary_normals(mesh)
    p = mesh.points
    # on side interiors (not corners) the normal is the exact axis direction
    left = np.isclose(p[:, 0], 0) & (p[:, 1] > 1e-9) & (p[:, 1] < 1 - 1e-9)
    right = np.isclose(p[:, 0], 1) & (p[:, 1] > 1e-9) & (p[:, 1] < 1 - 1e-9)
    np.testing.assert_allclose(normals[left], [[-1, 0]] * left.sum(), atol=1e-12)
    np.testing.assert_allclose(normals[right], [[1, 0]] * right.sum(), atol=1e-12)
    corner = np.isclose(p, [1, 1]).all(axis=1)
    np.testing.assert_allclose(normals[corner], [[2**-0.5, 2**-0.5]], atol=1e-12)
    assert np.all(normals[~mask] == 0)


def test_square_distances_exact(square_mesh):
    p = square_mesh.points
    dist, direction = distance_to_boundary(square_mesh)
    exact = np.min(np.stack([p[:, 0], 1 - p[:, 0], p[:, 1], 1 - p[:, 1]]), axis=0)
    np.testing.assert_allclose(dist, exact, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(direction, axis=1), 1.0, atol=1e-12)
    # direction points to the boundary: moving by dist along it lands on the boundary
    inside = dist > 1e-9
    landed = p[inside] + dist[inside, None] * direction[inside]
    assert _on_square_boundary(landed, tol=1e-9).all()


def test_disk_boundary(disk_mesh):
    p = disk_mesh.points
    r = np.linalg.norm(p, axis=1)
    mask = boundary_nodes(disk_mesh)
    np.testing.assert_array_equal(mask, np.isclose(r, 1.0, atol=1e-9))
    normals = boundary_normals(disk_mesh)
    np.testing.assert_allclose(normals[mask], p[mask] / r[mask, None], atol=1e-3)
    dist, direction = distance_to_boundary(disk_mesh)
    # the boundary is a polygon inscribed in the unit circle: exact distance within its sag
    h = 2 * np.pi / mask.sum()
    assert np.all(np.abs(dist - (1 - r)) <= h**2 / 8 + 1e-12)
    far = dist > 0.05
    np.testing.assert_allclose((direction[far] * p[far] / r[far, None]).sum(1), 1.0, atol=1e-2)


@pytest.mark.parametrize("fixture", ["cube_mesh", "hex_mesh", "wedge_mesh"])
def test_cube_boundary(fixture, request):
    mesh = request.getfixturevalue(fixture)
    p = mesh.points
    mask = boundary_nodes(mesh)
    np.testing.assert_array_equal(mask, _on_square_boundary(p))
    dist, _ = distance_to_boundary(mesh)
    exact = np.min(np.concatenate([p, 1 - p], axis=1), axis=1)
    np.testing.assert_allclose(dist, exact, atol=1e-12)
    normals = boundary_normals(mesh)
    face = np.isclose(p[:, 2], 1.0) & (np.min(np.concatenate([p[:, :2], 1 - p[:, :2]], 1), 1) > 1e-9)
    np.testing.assert_allclose(normals[face], [[0, 0, 1]] * face.sum(), atol=1e-12)
    # the facets tile the cube surface: total area 6
    area = 0.0
    for ftype, f in boundary_facets(mesh).items():
        q = p[f]
        if ftype == "triangle":
            area += 0.5 * np.linalg.norm(np.cross(q[:, 1] - q[:, 0], q[:, 2] - q[:, 0]), axis=1).sum()
        else:
            area += 0.5 * np.linalg.norm(np.cross(q[:, 2] - q[:, 0], q[:, 3] - q[:, 1]), axis=1).sum()
    assert area == pytest.approx(6.0)


def test_holes_boundary_includes_hole_curves(holes_mesh):
    p = holes_mesh.points
    bf = boundary_features(holes_mesh)
    on_hole1 = np.isclose(np.linalg.norm(p - [0.3, 0.3], axis=1), 0.1, atol=1e-9)
    on_hole2 = np.isclose(np.linalg.norm(p - [0.7, 0.6], axis=1), 0.15, atol=1e-9)
    np.testing.assert_array_equal(bf.mask, _on_square_boundary(p) | on_hole1 | on_hole2)
    # hole normals point into the hole (outward from the domain)
    np.testing.assert_allclose(bf.normal[on_hole1], -(p[on_hole1] - [0.3, 0.3]) / 0.1, atol=2e-2)
    # distances against the exact distance to the square and the two circles
    d_sq = np.min(np.stack([p[:, 0], 1 - p[:, 0], p[:, 1], 1 - p[:, 1]]), 0)
    d_h1 = np.linalg.norm(p - [0.3, 0.3], axis=1) - 0.1
    d_h2 = np.linalg.norm(p - [0.7, 0.6], axis=1) - 0.15
    exact = np.min(np.stack([d_sq, d_h1, d_h2]), 0)
    # the polygonal holes lie inside the true circles, at most their sagitta h^2 / (8 r) away
    assert np.all(bf.distance >= exact - 1e-9)
    assert np.all(bf.distance <= exact + 0.05**2 / (8 * 0.1) + 1e-9)


def test_point_cloud_has_no_boundary():
    with pytest.raises(MeshError, match="no 2D or 3D volume cells"):
        boundary_nodes(Mesh(np.random.rand(10, 2)))
