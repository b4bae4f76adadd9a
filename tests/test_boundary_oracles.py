"""Distances to the boundary from points outside and inside a square / cube, against the exact box distance.

Query points outside the domain are nearest to an edge or a corner, not to the inside
of a facet, so the point-to-segment / point-to-triangle search is exercised in all its
cases (a projection onto the facet's line or plane alone would give a wrong, smaller
distance).
"""
import numpy as np
import pytest

from graphops.boundary import distance_to_boundary, mesh_scale


def _box_distance(q: np.ndarray) -> "tuple[np.ndarray, np.ndarray]":
    """Exact distance from points to the surface of the unit box, and the nearest surface points."""
    outside = np.any((q < 0) | (q > 1), axis=1)
    nearest = np.clip(q, 0.0, 1.0)
    inside_gap = np.concatenate([q, 1 - q], axis=1)  # distances to the 2d faces
    face = np.argmin(inside_gap, axis=1)
    d = q.shape[1]
    for i in np.flatnonzero(~outside):
        axis = face[i] % d
        nearest[i, axis] = 0.0 if face[i] < d else 1.0
    return np.linalg.norm(nearest - q, axis=1), nearest


@pytest.mark.parametrize("fixture", ["square_mesh", "quad_mesh", "cube_mesh", "hex_mesh"])
def test_distance_and_direction_from_any_point_match_the_exact_box_distance(fixture, request):
    mesh = request.getfixturevalue(fixture)
    d = mesh.geometric_dim
    q = np.random.default_rng(0).uniform(-0.6, 1.6, size=(300, d))
    exact, nearest = _box_distance(q)
    dist, direction = distance_to_boundary(mesh, q, k=12)
    np.testing.assert_allclose(dist, exact, atol=1e-12)
    far = exact > 1e-6
    np.testing.assert_allclose(direction[far], (nearest[far] - q[far]) / exact[far, None], atol=1e-9)


def test_chunks_give_the_same_answer(cube_mesh):
    q = np.random.default_rng(1).uniform(-0.5, 1.5, size=(50, 3))
    whole = distance_to_boundary(cube_mesh, q, k=12)
    chunked = distance_to_boundary(cube_mesh, q, k=12, chunk=7)
    np.testing.assert_array_equal(whole[0], chunked[0])
    np.testing.assert_array_equal(whole[1], chunked[1])


def test_mesh_scale_is_the_bounding_box_diagonal():
    pts = np.array([[1.0, 2.0], [4.0, 6.0], [2.0, 3.0]])
    assert mesh_scale(pts) == pytest.approx(5.0)
    assert mesh_scale(np.array([[1.0, 1.0], [1.0, 1.0]])) == 1.0  # a single location: unit scale
    assert mesh_scale(np.zeros((0, 2))) == 1.0
