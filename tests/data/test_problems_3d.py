"""3D Poisson problems: samples checked against an independent P1 tetrahedral assembly (numpy, not scikit-fem)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from graphops.data.problems import get_problem, problem_names
from graphops.errors import ConfigError


def p1_matrices(points: np.ndarray, tets: np.ndarray):
    """Stiffness K and consistent mass M of P1 elements, from the barycentric gradients of each tetrahedron."""
    n = len(points)
    T = np.concatenate([np.ones((len(tets), 4, 1)), points[tets]], axis=2)  # (M, 4, 4): rows [1, x_i]
    C = np.linalg.inv(T)  # column i: coefficients (a_i, b_i) of phi_i = a_i + b_i . x
    grads = np.transpose(C[:, 1:, :], (0, 2, 1))  # (M, 4, 3)
    vol = np.abs(np.linalg.det(T)) / 6.0
    Ke = vol[:, None, None] * grads @ np.transpose(grads, (0, 2, 1))
    Me = vol[:, None, None] / 20.0 * (np.ones((4, 4)) + np.eye(4))
    rows = np.repeat(tets, 4, axis=1).ravel()
    cols = np.tile(tets, (1, 4)).ravel()
    K = sp.coo_matrix((Ke.ravel(), (rows, cols)), shape=(n, n)).tocsr()
    M = sp.coo_matrix((Me.ravel(), (rows, cols)), shape=(n, n)).tocsr()
    return K, M


def boundary_faces(tets: np.ndarray) -> np.ndarray:
    """Triangles that belong to exactly one tetrahedron."""
    faces = np.concatenate([tets[:, [0, 1, 2]], tets[:, [0, 1, 3]], tets[:, [0, 2, 3]], tets[:, [1, 2, 3]]])
    key = np.sort(faces, axis=1)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    return faces[counts[inverse.ravel()] == 1]


def face_mass(points: np.ndarray, faces: np.ndarray) -> sp.csr_matrix:
    """P1 mass matrix of the boundary triangles."""
    n = len(points)
    p = points[faces]
    area = 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)
    Me = area[:, None, None] / 12.0 * (np.ones((3, 3)) + np.eye(3))
    rows = np.repeat(faces, 3, axis=1).ravel()
    cols = np.tile(faces, (1, 3)).ravel()
    return sp.coo_matrix((Me.ravel(), (rows, cols)), shape=(n, n)).tocsr()


@pytest.fixture(scope="module")
def dirichlet_sample():
    return get_problem("poisson-dirichlet-3d", tiny=True, holes=[2]).sample(0, seed=7)


@pytest.fixture(scope="module")
def neumann_sample():
    return get_problem("poisson-neumann-3d", tiny=True, holes=[1]).sample(0, seed=8)


def test_registered():
    assert {"poisson-dirichlet-3d", "poisson-neumann-3d"} <= set(problem_names())


def test_dirichlet_sample_layout(dirichlet_sample):
    s = dirichlet_sample
    n = len(s["points"])
    assert s["points"].shape == (n, 3) and s["cells"].shape[1] == 4 and s["facets"].shape[1] == 3
    assert int(s["family"]) == 2
    bnd = np.zeros(n, bool)
    bnd[boundary_faces(s["cells"]).ravel()] = True
    np.testing.assert_array_equal(s["bc_dirichlet"], bnd)  # every boundary node is Dirichlet
    # the stored facets are exactly the boundary faces of the tetrahedra
    got = {tuple(sorted(f)) for f in s["facets"].tolist()}
    assert got == {tuple(sorted(f)) for f in boundary_faces(s["cells"]).tolist()}
    assert set(np.unique(s["facet_group"]).tolist()) == {0, 1, 2, 3}  # bottom, top, side, hole


def test_dirichlet_sample_solves_the_discrete_problem(dirichlet_sample):
    """u = g on the boundary and K u = M f at the interior nodes (independent assembly)."""
    s = dirichlet_sample
    bc = s["bc_dirichlet"]
    np.testing.assert_allclose(s["u"][bc], s["g"][bc], rtol=0, atol=1e-10)
    K, M = p1_matrices(s["points"], s["cells"])
    residual = (K @ s["u"] - M @ s["f"])[~bc]
    assert np.linalg.norm(residual) <= 1e-8 * np.linalg.norm((M @ s["f"])[~bc]) + 1e-10
    assert np.all(s["g"][~bc] == 0.0)


def test_neumann_sample_solves_the_discrete_problem(neumann_sample):
    """K u = M f + Mb g everywhere, the data are compatible, and u has zero mean."""
    s = neumann_sample
    assert not s["bc_dirichlet"].any()
    K, M = p1_matrices(s["points"], s["cells"])
    Mb = face_mass(s["points"], boundary_faces(s["cells"]))
    load = M @ s["f"] + Mb @ s["g"]
    assert abs(load.sum()) <= 1e-8 * np.abs(load).sum()  # int f + oint g = 0 after the stored shift
    residual = K @ s["u"] - load
    assert np.linalg.norm(residual) <= 1e-7 * np.linalg.norm(load)
    assert abs((M @ s["u"]).sum()) <= 1e-8 * (M @ np.abs(s["u"])).sum()  # int u = 0


def test_samples_are_reproducible():
    p = get_problem("poisson-dirichlet-3d", tiny=True, holes=[0])
    a, b = p.sample(0, seed=3), p.sample(1, seed=3)
    for key in ("points", "cells", "f", "g", "u"):
        np.testing.assert_array_equal(a[key], b[key])


def test_bad_options():
    with pytest.raises(ConfigError, match="holes"):
        get_problem("poisson-dirichlet-3d", holes=[7])
    with pytest.raises(ConfigError, match="no option"):
        get_problem("poisson-dirichlet-3d", cutouts=[1])


def test_dirichlet_3d_prediction_inputs_and_reference_reproduce_a_harmonic_field():
    """predict's side of the 3D problem: f, g from formulas; the FEM reference is exact for a linear harmonic u."""
    from graphops.geometry import solid_with_holes

    problem = get_problem("poisson-dirichlet-3d")
    mesh = solid_with_holes(3, 0.3, "box", 1)
    fields = problem.prediction_fields(mesh, {"source": "0", "boundary": "1 + x + 2*y - z"})
    x, y, z = mesh.points.T
    exact = 1 + x + 2 * y - z
    on_boundary = fields["bc_dirichlet"]
    assert on_boundary.any() and not on_boundary.all()
    np.testing.assert_allclose(fields["g"][on_boundary], exact[on_boundary])
    u = problem.reference_solution(mesh, fields)["prediction"]
    np.testing.assert_allclose(u, exact, atol=1e-8)
    assert problem.similarity is not None and problem.reference_frame()["high"] == [1.0, 1.0, 1.0]
    with pytest.raises(ConfigError, match="boundary values are required"):
        problem.prediction_fields(mesh, {"source": "1"})


def test_poisson_prediction_refuses_a_surface_mesh():
    """A surface mesh in 3D has no interior: the Poisson problems refuse it by name instead of predicting on it."""
    from graphops.errors import MeshError
    from graphops.mesh import Mesh

    square = Mesh(np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.5]], float),
                  {"triangle": np.array([[0, 1, 2], [0, 2, 3]])})
    for name in ("poisson-dirichlet-3d", "poisson-dirichlet"):
        with pytest.raises(MeshError, match="surface mesh in 3D"):
            get_problem(name).prediction_mesh(square)
