"""Linear elasticity reference solver: manufactured solution, patch tests, von Mises, errors."""
import numpy as np
import pytest
import sympy as sy

from graphops.errors import ConfigError
from graphops.geometry import polygon_with_holes, solid_with_holes, unit_cell_with_void
from graphops.solvers import elasticity_fem, lame, solve_elasticity

# Material constants written out from the textbook formulas, never from the library's ``lame()``:
# mu = E / (2 (1 + nu)) = 10 / 2.6, plane-strain lambda = E nu / ((1 + nu)(1 - 2 nu)) = 3 / 0.52,
# plane-stress lambda* = E nu / (1 - nu^2) = 3 / 0.91.
E, NU = 10.0, 0.3
MU = 50.0 / 13.0
LAM = 75.0 / 13.0
LAM_STRESS = 300.0 / 91.0


def test_lame_matches_the_textbook_constants():
    assert lame(E, NU) == pytest.approx((LAM, MU), rel=1e-14)
    assert lame(E, NU, "stress") == pytest.approx((LAM_STRESS, MU), rel=1e-14)
    # steel-like values: E = 200, nu = 0.25 -> mu = 80, lambda = 80, lambda* = 53.33...
    assert lame(200.0, 0.25) == pytest.approx((80.0, 80.0), rel=1e-14)
    assert lame(200.0, 0.25, "stress") == pytest.approx((160.0 / 3.0, 80.0), rel=1e-14)


def _manufactured(lam=LAM):
    """Displacement, body force and stress callables of a smooth 2D field (derived with sympy).

    ``lam`` is the plane-strain lambda, or the plane-stress lambda* for a plane-stress body.
    """
    x, y = sy.symbols("x y")
    u = [sy.sin(2 * x) * sy.cos(y) / 10, sy.cos(3 * x * y) / 10 + x * y / 20]
    grad = [[sy.diff(u[i], v) for v in (x, y)] for i in range(2)]
    eps = [[(grad[i][j] + grad[j][i]) / 2 for j in range(2)] for i in range(2)]
    tr = eps[0][0] + eps[1][1]
    sig = [[2 * MU * eps[i][j] + (lam * tr if i == j else 0) for j in range(2)] for i in range(2)]
    body = [-(sy.diff(sig[i][0], x) + sy.diff(sig[i][1], y)) for i in range(2)]
    lam = lambda e: sy.lambdify((x, y), e, "numpy")  # noqa: E731
    uf, bf = [lam(e) for e in u], [lam(e) for e in body]
    sf = [[lam(e) for e in row] for row in sig]

    def full(v, X):
        return np.broadcast_to(v, np.shape(X[0])).astype(float)

    exact = lambda X: np.stack([full(uf[i](X[0], X[1]), X) for i in range(2)])  # noqa: E731
    force = lambda X: np.stack([full(bf[i](X[0], X[1]), X) for i in range(2)])  # noqa: E731

    def traction(X, n):
        s = [[full(sf[i][j](X[0], X[1]), X) for j in range(2)] for i in range(2)]
        return np.stack([s[i][0] * n[0] + s[i][1] * n[1] for i in range(2)])

    return exact, force, traction


@pytest.mark.parametrize("order,expected", [(1, 2.0), (2, 3.0)])
def test_manufactured_displacement_converges_at_the_expected_order(order, expected):
    exact, force, traction = _manufactured()
    errors = []
    for level in range(3):
        mesh = polygon_with_holes(4, 0.1, num_holes=2, refinements=level)
        sol = elasticity_fem(mesh, E, NU, fixed="outer", fixed_value=exact, traction="hole",
                             traction_value=traction, body_force=force, order=order)
        errors.append(sol.l2_error(exact))
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert rates[-1] > expected - 0.2, (errors, rates)


def test_plane_stress_manufactured_solution_converges():
    """Plane stress has its own manufactured body force (built with lambda*); P2 converges at order 3."""
    exact, force, traction = _manufactured(LAM_STRESS)
    errors = []
    for level in range(2):
        mesh = polygon_with_holes(4, 0.1, num_holes=2, refinements=level)
        sol = elasticity_fem(mesh, E, NU, fixed="outer", fixed_value=exact, traction="hole",
                             traction_value=traction, body_force=force, order=2, plane="stress")
        errors.append(sol.l2_error(exact))
    assert np.log2(errors[0] / errors[1]) > 2.8, errors
    assert errors[-1] < 2e-5, errors


def _uniform_state_von_mises(grad, plane_strain=True):
    eps = 0.5 * (grad + grad.T)
    lam = LAM if plane_strain else LAM_STRESS
    sigma = 2 * MU * eps + lam * np.trace(eps) * np.eye(len(eps))
    if len(eps) == 2:
        szz = lam * np.trace(eps) if plane_strain else 0.0
        s = np.zeros((3, 3))
        s[:2, :2] = sigma
        s[2, 2] = szz
        sigma = s
    dev = sigma - np.trace(sigma) / 3 * np.eye(3)
    return np.sqrt(1.5 * np.sum(dev * dev))


@pytest.mark.parametrize("dim", [2, 3])
def test_linear_displacement_patch_test_is_exact_with_constant_von_mises(dim):
    rng = np.random.default_rng(0)
    grad = rng.normal(scale=0.01, size=(dim, dim))
    shift = rng.normal(size=dim)
    linear = lambda X: shift.reshape((dim,) + (1,) * (np.ndim(X) - 1)) + np.tensordot(grad, X, axes=(1, 0))  # noqa: E731
    mesh = polygon_with_holes(3, 0.08, 2) if dim == 2 else solid_with_holes(3, 0.25, "box", 1)
    for method in ("l2", "average"):
        sol = solve_elasticity(mesh, E, NU, fixed="all", fixed_value=linear, stress=method)
        assert sol.displacement.shape == (mesh.num_points, dim)
        assert np.abs(sol.displacement - linear(mesh.points.T).T).max() < 1e-10
        assert np.allclose(sol.von_mises, _uniform_state_von_mises(grad), rtol=1e-8)


# Uniform strain states whose stresses are worked out by hand (E = 10, nu = 0.3, strain 0.01):
# - uniaxial strain e_xx, plane strain: s_xx = (lam + 2 mu) e, s_yy = s_zz = lam e, vm = 2 mu e = 1/13;
# - pure shear e_xy = 0.01: s_xy = 2 mu 0.01 = 1/13, vm = sqrt(3) s_xy = sqrt(3)/13;
# - uniaxial strain e_xx, plane stress: s_xx = 1000/91 e = 10/91, s_yy = 3/91, s_zz = 0,
#   vm = sqrt(s_xx^2 - s_xx s_yy + s_yy^2) = sqrt(79)/91;
# - uniaxial strain e_xx in 3D: as plane strain, vm = 2 mu e = 1/13.
HAND_VON_MISES = [
    ("strain", [[0.01, 0.0], [0.0, 0.0]], 1.0 / 13.0),
    ("strain", [[0.0, 0.01], [0.01, 0.0]], np.sqrt(3.0) / 13.0),
    ("stress", [[0.01, 0.0], [0.0, 0.0]], np.sqrt(79.0) / 91.0),
    ("stress", [[0.0, 0.01], [0.01, 0.0]], np.sqrt(3.0) / 13.0),
    ("strain", [[0.01, 0, 0], [0, 0, 0], [0, 0, 0]], 1.0 / 13.0),
]


@pytest.mark.parametrize("plane,grad,expected", HAND_VON_MISES)
def test_von_mises_of_uniform_states_matches_hand_computed_stresses(plane, grad, expected):
    grad = np.array(grad)
    dim = len(grad)
    linear = lambda X: np.tensordot(grad, X, axes=(1, 0))  # noqa: E731
    mesh = polygon_with_holes(2, 0.15, 1) if dim == 2 else solid_with_holes(2, 0.3, "box", 1)
    for method in ("l2", "average"):
        sol = solve_elasticity(mesh, E, NU, fixed="all", fixed_value=linear, plane=plane, stress=method)
        np.testing.assert_allclose(sol.von_mises, expected, rtol=1e-8)
    assert _uniform_state_von_mises(grad, plane == "strain") == pytest.approx(expected, rel=1e-12)


def test_unit_cell_under_tension_is_clamped_at_the_bottom_and_stretched_upwards():
    mesh = unit_cell_with_void(2, 0.08)
    sol = solve_elasticity(mesh, fixed="bottom", traction="top", traction_value=[0.0, 1.0])
    bottom = mesh.group("bottom").nodes()
    top = mesh.group("top").nodes()
    assert np.abs(sol.displacement[bottom]).max() == 0.0
    assert sol.displacement[top, 1].min() > 0.0
    assert sol.von_mises.min() > -1e-6 and sol.von_mises.max() > 1.0  # stress concentrates at the void
    p2 = solve_elasticity(mesh, fixed="bottom", traction="top", traction_value=[0.0, 1.0], order=2)
    assert np.abs(p2.displacement - sol.displacement).max() < 0.1 * np.abs(sol.displacement).max()


def test_errors_are_clear():
    mesh = polygon_with_holes(1, 0.1, 1)
    with pytest.raises(ConfigError, match="fixed"):
        solve_elasticity(mesh, fixed=None, traction="outer", traction_value=[0, 1])
    with pytest.raises(ConfigError, match="Poisson"):
        solve_elasticity(mesh, nu=0.5)
    with pytest.raises(ConfigError, match="2 numbers"):
        solve_elasticity(mesh, body_force=[1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match="plane"):
        solve_elasticity(mesh, plane="shell")
