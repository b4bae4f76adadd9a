"""Elasticity solver defaults, partial tractions, error labels and the cell average, against hand-worked stresses.

Defaults (documented): E = 1, nu = 0.3, plane strain, P1, zero loads. Written out by hand:
mu = 1 / 2.6, plane-strain lambda = 0.3 / (1.3 * 0.4). Uniaxial stress sigma_xx = 1 in plane
strain: eps_xx = (1 - nu^2) / E = 0.91, eps_yy = -nu (1 + nu) / E = -0.39,
sigma_zz = nu (sigma_xx + sigma_yy) = 0.3, von Mises = sqrt(((1 - 0)^2 + (0 - 0.3)^2 + (0.3 - 1)^2) / 2) = sqrt(0.79).
"""
import numpy as np
import pytest

from graphops.errors import ConfigError
from graphops.geometry import solid_with_holes
from graphops.mesh import Mesh
from graphops.solvers import elasticity_fem, lame, solve_elasticity
from graphops.solvers.elasticity import von_mises_at_quadrature

MU = 1.0 / 2.6
LAM = 0.3 / (1.3 * 0.4)


def left(mid):
    return np.isclose(mid[:, 0], 0.0)


def right(mid):
    return np.isclose(mid[:, 0], 1.0)


def uniaxial(X):
    return np.stack([0.91 * X[0], -0.39 * X[1]])


def test_default_loads_are_zero_and_the_default_element_is_p1(square_mesh):
    n = square_mesh.num_points
    sol = elasticity_fem(square_mesh)
    assert np.all(sol.nodal() == 0.0)
    assert len(sol.dofs) == 2 * n  # P1: two dofs per node
    assert np.all(elasticity_fem(square_mesh, fixed=left, traction=right).nodal() == 0.0)
    assert np.all(solve_elasticity(square_mesh, fixed=left, traction=right).displacement == 0.0)


def test_traction_on_one_side_only_gives_the_uniaxial_stress_state_with_default_material(square_mesh):
    # left side held at the exact displacement, right side pulled by sigma n = (1, 0), top and bottom free
    sol = solve_elasticity(square_mesh, fixed=left, fixed_value=uniaxial, traction=right, traction_value=[1.0, 0.0])
    np.testing.assert_allclose(sol.displacement, uniaxial(square_mesh.points.T).T, atol=1e-10)
    np.testing.assert_allclose(sol.von_mises, np.sqrt(0.79), rtol=1e-8)
    fem = elasticity_fem(square_mesh, fixed=left, fixed_value=uniaxial, traction=right, traction_value=[1.0, 0.0])
    np.testing.assert_allclose(von_mises_at_quadrature(fem), np.sqrt(0.79), rtol=1e-8)
    assert fem.lam == pytest.approx(LAM) and fem.mu == pytest.approx(MU)


def test_plane_is_ignored_in_3d():
    mesh = solid_with_holes(2, 0.4, "box", 1)
    sol = elasticity_fem(mesh, plane="stress")
    assert sol.lam == pytest.approx(LAM)  # the 3D lambda, not the plane-stress one (0.3 / 0.91)


def test_average_von_mises_of_two_triangles_by_hand():
    # unit square split along (0,0)-(1,1); only node 1 = (1, 0) moves, by (a, 0).
    # Triangle (0,0),(1,0),(1,1): u_x = a (x - y), so eps_xx = a, eps_xy = -a/2: sigma_xx - sigma_yy = 2 mu a,
    # sigma_yy = sigma_zz = lam a, sigma_xy = -mu a, von Mises = sqrt(4 mu^2 a^2 + 3 mu^2 a^2) = sqrt(7) mu a.
    # Triangle (0,0),(1,1),(0,1) does not move: von Mises 0. Equal areas, so the node averages are
    # (vm/2, vm, vm/2, 0).
    a = 0.01
    mesh = Mesh(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), {"triangle": np.array([[0, 1, 2], [0, 2, 3]])})
    fixed_value = np.zeros((4, 2))
    fixed_value[1, 0] = a
    vm = np.sqrt(7.0) * MU * a
    sol = solve_elasticity(mesh, fixed="all", fixed_value=fixed_value, stress="average")
    np.testing.assert_allclose(sol.von_mises, [vm / 2, vm, vm / 2, 0.0], atol=1e-15, rtol=1e-12)


def test_out_of_range_materials_are_refused():
    for E, nu, words in [(0.0, 0.3, "Young"), (1.0, -1.0, "Poisson"), (1.0, -1.5, "Poisson")]:
        with pytest.raises(ConfigError, match=words):
            lame(E, nu)
    assert lame(1.0, -0.9)[1] == pytest.approx(1.0 / 0.2)  # just inside (-1, 0.5): mu = E / (2 (1 + nu))


def test_errors_name_the_input_that_is_wrong(square_mesh):
    bad = [1.0, 2.0, 3.0]
    cases = [
        (dict(body_force=bad), "body force"),
        (dict(fixed=left, traction=right, traction_value=bad), "traction must"),
        (dict(fixed_value=bad), "fixed displacement"),
        (dict(fixed=[1]), "fixed boundary selector"),
        (dict(fixed=left, traction=[1]), "traction boundary selector"),
    ]
    for kwargs, words in cases:
        with pytest.raises(ConfigError, match=words):
            elasticity_fem(square_mesh, **kwargs)
