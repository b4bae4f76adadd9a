"""Boundary geometry against values worked out by hand: one triangle, a tilted triangle, a cube, row keys.

Every expected number below comes from elementary geometry written out in the comments
(outward normals of a known triangle, the nearest point of a known triangle to points in
each of its Voronoi regions), never from the functions under test.
"""
import numpy as np
import pytest

from graphops.boundary import (
    _closest_on_triangles,
    boundary_facets,
    boundary_features,
    boundary_normals,
    distance_to_boundary,
    mesh_scale,
    row_keys,
)
from graphops.errors import MeshError
from graphops.mesh import Mesh

# The triangle a = (0, 0), b = (4, 0), c = (1, 3), shifted by (10, 10) so that no owner centroid is the origin.
SHIFT = np.array([10.0, 10.0])
TRIANGLE = np.array([[0.0, 0.0], [4.0, 0.0], [1.0, 3.0]])


def _unit(v):
    v = np.asarray(v, dtype=float)
    return v / np.sqrt((v * v).sum())


def test_single_triangle_normals_are_the_bisectors_of_its_edge_normals():
    mesh = Mesh(TRIANGLE + SHIFT, {"triangle": np.array([[0, 1, 2]])})
    # Outward unit normals of the edges: ab (y = 0) -> (0, -1); bc (x + y = 4) -> (1, 1)/sqrt 2;
    # ca (y = 3x) -> (-3, 1)/sqrt 10. A vertex gets the normalised sum of its two edges' normals.
    n_ab, n_bc, n_ca = np.array([0.0, -1.0]), _unit([1, 1]), _unit([-3, 1])
    expected = np.array([_unit(n_ab + n_ca), _unit(n_ab + n_bc), _unit(n_bc + n_ca)])
    np.testing.assert_allclose(boundary_normals(mesh), expected, atol=1e-12)
    # The angle at b is 45 degrees, so |n_ab + n_bc| = 2 sin(22.5 deg) < 1: still a unit normal there.
    assert np.linalg.norm(n_ab + n_bc) < 1.0
    feats = boundary_features(mesh)
    np.testing.assert_allclose(feats.normal, expected, atol=1e-12)
    np.testing.assert_allclose(feats.direction, expected, atol=1e-12)  # boundary nodes: direction = normal
    assert np.array_equal(np.sort(np.sort(feats.facets["line"], axis=1), axis=0), [[0, 1], [0, 2], [1, 2]])


def test_boundary_features_direction_and_facets_match_the_separate_functions(square_mesh):
    feats = boundary_features(square_mesh)
    q = square_mesh.points
    inside = feats.distance > 1e-9
    # interior nodes of the unit square: the direction points at the nearest side
    exact = np.stack([-q[:, 0], 1 - q[:, 0], -q[:, 1], 1 - q[:, 1]], axis=1)
    side = np.argmin(np.abs(exact), axis=1)
    axis_dir = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]], dtype=float)[side]
    unique = np.sort(np.abs(exact), axis=1)
    clear = inside & (unique[:, 1] - unique[:, 0] > 1e-9)  # one nearest side only
    np.testing.assert_allclose(feats.direction[clear], axis_dir[clear], atol=1e-12)
    facets = boundary_facets(square_mesh)
    assert set(feats.facets) == set(facets)
    np.testing.assert_array_equal(feats.facets["line"], facets["line"])


def _rotation():
    # rotation by 30 degrees about z, then by 45 degrees about x (both written out)
    c, s = np.sqrt(3) / 2, 0.5
    rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    r = np.sqrt(0.5)
    rx = np.array([[1, 0, 0], [0, r, -r], [0, r, r]])
    return rx @ rz


# Triangle a = (0,0,0), b = (4,0,0), c = (1,3,0) in its own frame; query point -> nearest point:
CASES = [
    ((2.0, 1.0, 5.0), (2.0, 1.0, 0.0)),  # above the inside: the foot of the perpendicular
    ((2.0, -1.0, 3.0), (2.0, 0.0, 0.0)),  # beyond edge ab
    ((6.0, -1.0, -2.0), (4.0, 0.0, 0.0)),  # beyond vertex b
    ((3.0, 3.0, 1.0), (2.0, 2.0, 0.0)),  # beyond edge bc: b + 2/3 (c - b)
    ((-1.0, 2.0, 0.5), (0.5, 1.5, 0.0)),  # beyond edge ca: (1, 3) / 2
    ((1.0, 4.0, -1.0), (1.0, 3.0, 0.0)),  # beyond vertex c
]


@pytest.mark.parametrize("scale", [1.0, 0.25])
def test_closest_point_on_a_tilted_triangle_in_every_region(scale):
    rot, shift = _rotation(), np.array([1.0, -2.0, 0.5])
    to_world = lambda x: scale * np.asarray(x) @ rot.T + shift  # noqa: E731
    a, b, c = to_world([[0, 0, 0], [4, 0, 0], [1, 3, 0]])
    q = to_world([p for p, _ in CASES])
    want = to_world([n for _, n in CASES])
    m = len(CASES)
    # each point against the triangle and a far-away second one (two candidates per point)
    far = np.array([100.0, 100.0, 100.0])
    tri = lambda v, w: np.stack([np.broadcast_to(v, (m, 3)), np.broadcast_to(w, (m, 3))], axis=1)  # noqa: E731
    got = _closest_on_triangles(q[:, None, :], tri(a, far), tri(b, far + [1, 0, 0]), tri(c, far + [0, 2, 0]))
    np.testing.assert_allclose(got[:, 0], want, atol=1e-12)
    np.testing.assert_allclose(got[:, 1], np.broadcast_to(far, (m, 3)), atol=1e-12)  # its nearest corner
    # and through distance_to_boundary of the tetrahedron with that face (plus a far apex)
    apex = to_world([1.5, 1.0, -20.0])
    tet = Mesh(np.stack([a, b, c, apex]), {"tetra": np.array([[0, 1, 2, 3]])})
    dist, direction = distance_to_boundary(tet, q[[0, 1, 3]], k=4)
    exact = np.linalg.norm(want[[0, 1, 3]] - q[[0, 1, 3]], axis=1)
    np.testing.assert_allclose(dist, exact, atol=1e-12)
    np.testing.assert_allclose(direction, (want[[0, 1, 3]] - q[[0, 1, 3]]) / exact[:, None], atol=1e-12)


def test_query_points_on_the_boundary_get_distance_and_direction_zero(square_mesh):
    q = np.array([[0.5, 0.0], [1.0, 0.25], [0.0, 0.0], [0.3, 1.0]])
    dist, direction = distance_to_boundary(square_mesh, q)
    np.testing.assert_array_equal(dist, 0.0)
    np.testing.assert_array_equal(direction, 0.0)


def test_a_tiny_mesh_still_gives_unit_directions_at_tiny_distances(square_mesh):
    small = Mesh(square_mesh.points * 1e-3, square_mesh.cells)
    q = np.array([[0.5e-3, 1e-10], [1e-3 - 2e-11, 0.4e-3]])
    dist, direction = distance_to_boundary(small, q)
    np.testing.assert_allclose(dist, [1e-10, 2e-11], rtol=1e-4)
    np.testing.assert_allclose(direction, [[0.0, -1.0], [1.0, 0.0]], atol=1e-4)


@pytest.mark.parametrize("fixture", ["cube_mesh", "hex_mesh"])
def test_cube_face_normals_are_the_axes(fixture, request):
    mesh = request.getfixturevalue(fixture)
    p, n = mesh.points, boundary_normals(mesh)
    on_face = np.isclose(p, 0.0, atol=1e-9) | np.isclose(p, 1.0, atol=1e-9)
    face_only = on_face.sum(axis=1) == 1  # nodes inside exactly one face
    assert face_only.sum() > 6
    axis = np.argmax(on_face[face_only], axis=1)
    coord = p[face_only][np.arange(len(axis)), axis]
    sign = np.where(np.isclose(coord, 1.0), 1.0, -1.0)
    expected = np.zeros((face_only.sum(), 3))
    expected[np.arange(len(axis)), axis] = sign
    np.testing.assert_allclose(n[face_only], expected, atol=1e-12)


def test_a_mesh_without_volume_cells_names_what_it_found_and_the_file():
    lines = Mesh(TRIANGLE, {"line": np.array([[0, 1], [1, 2]])}, source="edges.msh")
    with pytest.raises(MeshError, match=r"found: line \(2\)") as err:
        boundary_normals(lines)
    assert err.value.path == "edges.msh"
    with pytest.raises(MeshError, match="no cells at all"):
        boundary_normals(Mesh(TRIANGLE, {}, source="empty.msh"))


def test_mesh_scale_of_a_small_box_is_its_diagonal():
    assert mesh_scale(np.array([[0.0, 0.0], [0.3, 0.4]])) == pytest.approx(0.5)


def test_row_keys_are_int64_and_in_the_rows_lexicographic_order():
    n = 40_000  # 40000**4 = 2.56e18 < 2**62: integer keys
    rows = np.array([[0, 0, 0, 1], [0, 0, 0, 2], [0, 0, 1, 0], [n - 1, n - 1, n - 1, n - 1]], dtype=np.int32)
    keys = row_keys(rows, n)
    assert keys.dtype == np.int64
    # the base-n number of each row, written out
    assert keys.tolist() == [1, 2, n, n**4 - 1]
    big = np.array([[70_000, 70_001]], dtype=np.int32)  # 7.0e9 does not fit in int32
    assert row_keys(big, 100_000).tolist() == [70_000 * 100_000 + 70_001]


def test_row_keys_of_huge_indices_never_collide():
    n = 2**40  # n**2 = 2**80: too big for integer keys
    rows = np.array([[2**24, 0], [0, 0], [2**24, 0]])
    keys = row_keys(rows, n)
    assert keys[0] != keys[1] and keys[0] == keys[2]


def test_query_points_of_the_wrong_shape_are_refused(square_mesh):
    for bad in (np.array([0.5, 0.5]), np.zeros((3, 3)), np.zeros((2, 2, 2))):
        with pytest.raises(MeshError, match="shape"):
            distance_to_boundary(square_mesh, bad)
    # integer query points are measured like the same points in floating point
    np.testing.assert_allclose(distance_to_boundary(square_mesh, np.array([[0, 2]]))[0], [1.0], atol=1e-12)


def test_tetrahedra_of_either_orientation_get_outward_corner_normals():
    # Corner tetrahedron (0,0,0), (1,0,0), (0,1,0), (0,0,1): outward face normals -x, -y, -z and (1,1,1)/sqrt 3.
    # A corner's normal is the normalised sum of the unit normals of its three faces. The second copy
    # (shifted by 5 along x) lists its nodes in the opposite orientation, so its faces come out inward first.
    corners = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    mesh = Mesh(np.concatenate([corners, corners + [5.0, 0, 0]]), {"tetra": np.array([[0, 1, 2, 3], [4, 6, 5, 7]])})
    slant = np.ones(3) / np.sqrt(3)
    ex, ey, ez = np.eye(3)
    one = np.array([_unit(-ex - ey - ez), _unit(slant - ey - ez), _unit(slant - ex - ez), _unit(slant - ex - ey)])
    np.testing.assert_allclose(boundary_normals(mesh), np.concatenate([one, one]), atol=1e-12)


def test_a_skewed_tetrahedron_gets_normals_pointing_away_from_the_opposite_corner():
    # Independent oracle: a face's outward normal is its plane normal turned away from the fourth corner.
    pts = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [6, 5, 0.5]])
    unit_normals = []
    for face in ([1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]):
        a, b, c = pts[face]
        opposite = pts[[i for i in range(4) if i not in face][0]]
        n = _unit(np.cross(b - a, c - a))
        unit_normals.append((face, n if np.dot(n, a - opposite) > 0 else -n))
    expected = np.array([_unit(sum(n for f, n in unit_normals if v in f)) for v in range(4)])
    for order in ([0, 1, 2, 3], [0, 2, 1, 3]):
        mesh = Mesh(pts, {"tetra": np.array([order])})
        np.testing.assert_allclose(boundary_normals(mesh), expected, atol=1e-12)
