"""Poisson reference solver: manufactured solutions, convergence orders, boundary selection, errors."""
import numpy as np
import pytest
import skfem

from graphops.errors import ConfigError, MeshError
from graphops.mesh import Mesh
from graphops.geometry import polygon_with_holes, solid_with_holes
from graphops.solvers import poisson_fem, solve_poisson


# u = sin(2x) cos(3y) + x^2 with the coefficient a = 1 + x^2 y
def u_exact(x):
    return np.sin(2 * x[0]) * np.cos(3 * x[1]) + x[0] ** 2


def grad_u(x):
    return 2 * np.cos(2 * x[0]) * np.cos(3 * x[1]) + 2 * x[0], -3 * np.sin(2 * x[0]) * np.sin(3 * x[1])


def coeff(x):
    return 1 + x[0] ** 2 * x[1]


def source(x):
    ux, uy = grad_u(x)
    lap = -13 * np.sin(2 * x[0]) * np.cos(3 * x[1]) + 2
    return -(coeff(x) * lap + 2 * x[0] * x[1] * ux + x[0] ** 2 * uy)


def flux(x, n):
    ux, uy = grad_u(x)
    return coeff(x) * (ux * n[0] + uy * n[1])


BCS = {
    "dirichlet": dict(dirichlet="all", g=u_exact),
    "neumann": dict(dirichlet=None, neumann="all", flux=flux),
    "mixed": dict(dirichlet="outer", g=u_exact, neumann="hole", flux=flux),
}


def _error(sol, bc):
    if bc != "neumann":
        return sol.l2_error(u_exact)
    basis = skfem.Basis(sol.fem.sk, sol.basis.elem, intorder=8)
    xq = np.asarray(basis.global_coordinates())
    mean = np.sum(u_exact(xq) * basis.dx) / np.sum(basis.dx)
    return sol.l2_error(lambda x: u_exact(x) - mean)


@pytest.mark.parametrize("order,expected", [(1, 2.0), (2, 3.0)])
@pytest.mark.parametrize("bc", ["dirichlet", "neumann", "mixed"])
def test_manufactured_solution_converges_at_the_expected_order(bc, order, expected):
    """Non-convex polygon with two polygonal holes (exact geometry), 3 uniform refinements."""
    errors = []
    for level in range(3):
        mesh = polygon_with_holes(4, 0.1, num_holes=2, refinements=level)
        sol = poisson_fem(mesh, f=source, a=coeff, order=order, **BCS[bc])
        errors.append(_error(sol, bc))
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert rates[-1] > expected - 0.2, (errors, rates)
    assert rates[0] > expected - 0.4, (errors, rates)


def test_pure_neumann_is_made_compatible_and_returns_zero_mean():
    mesh = polygon_with_holes(2, 0.08, num_holes=1)
    # f = 1, zero flux: incompatible; the shift removes the mean of f and u = 0
    u, shift = solve_poisson(mesh, f=1.0, dirichlet=None, neumann="all", flux=0.0, return_shift=True)
    assert shift == pytest.approx(1.0)
    assert np.abs(u).max() < 1e-10
    sol = poisson_fem(mesh, f=source, a=coeff, dirichlet=None, neumann="all", flux=flux)
    basis = skfem.Basis(sol.fem.sk, sol.basis.elem)
    assert abs(np.sum(np.asarray(basis.interpolate(sol.dofs)) * basis.dx)) < 1e-10
    assert abs(sol.source_shift) < 1e-4  # exact data are compatible up to quadrature


def test_group_and_predicate_selectors_agree_and_nodal_inputs_match_callables():
    mesh = polygon_with_holes(4, 0.06, num_holes=2)
    by_group = solve_poisson(mesh, f=source, a=coeff, dirichlet="outer", g=u_exact, neumann="hole", flux=flux)
    outer_nodes = mesh.group("outer").nodes()
    outer_mask = np.zeros(mesh.num_points, bool)
    outer_mask[outer_nodes] = True
    # a facet is on the outer boundary when both its nodes are (the holes are far from it)
    lines = mesh.group("outer").cells["line"]
    mids = {tuple(np.round(m, 12)) for m in mesh.points[lines].mean(axis=1)}
    on_outer = lambda mid: np.array([tuple(np.round(m, 12)) in mids for m in mid])  # noqa: E731
    by_predicate = solve_poisson(mesh, f=source, a=coeff, dirichlet=on_outer, g=u_exact,
                                 neumann=lambda mid: ~on_outer(mid), flux=flux)
    assert np.allclose(by_group, by_predicate, atol=1e-12)
    x = mesh.points.T
    nodal = solve_poisson(mesh, f=source(x), a=coeff(x), dirichlet="all", g=u_exact(x))
    exact = solve_poisson(mesh, f=source, a=coeff, dirichlet="all", g=u_exact)
    assert np.allclose(nodal[outer_mask], u_exact(x)[outer_mask])
    assert np.abs(nodal - exact).max() < 5e-3  # P1 interpolation of the data only


def test_p2_returns_values_at_the_mesh_nodes():
    mesh = polygon_with_holes(1, 0.1, num_holes=1)
    u2 = solve_poisson(mesh, f=source, a=coeff, g=u_exact, order=2)
    assert u2.shape == (mesh.num_points,)
    assert np.abs(u2 - u_exact(mesh.points.T)).max() < 2e-3


def test_3d_patch_tests_are_exact():
    mesh = solid_with_holes(3, 0.2, "box", num_holes=1)
    linear = lambda x: 1 + 2 * x[0] - x[1] + 0.5 * x[2]  # noqa: E731
    u = solve_poisson(mesh, f=0.0, g=linear)
    assert np.abs(u - linear(mesh.points.T)).max() < 1e-10
    quad = lambda x: x[0] ** 2 + x[1] * x[2]  # noqa: E731 ; -lap = -2
    u2 = solve_poisson(mesh, f=-2.0, g=quad, order=2)
    assert np.abs(u2 - quad(mesh.points.T)).max() < 1e-9


def test_errors_are_clear():
    mesh = polygon_with_holes(1, 0.1, num_holes=1)
    bent = Mesh(np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]), {"triangle": np.array([[0, 1, 2], [0, 2, 3]])})
    with pytest.raises(MeshError, match="need a 2D mesh or a 3D volume mesh, this is a surface mesh in 3D"):
        solve_poisson(bent)
    with pytest.raises(MeshError, match="no physical group 'inlet'"):
        solve_poisson(mesh, dirichlet="inlet")
    with pytest.raises(ConfigError, match="positive"):
        solve_poisson(mesh, a=-1.0)
    with pytest.raises(ConfigError, match="shape"):
        solve_poisson(mesh, f=np.ones(3))
    with pytest.raises(ConfigError, match="order"):
        solve_poisson(mesh, order=3)
    with pytest.raises(ConfigError, match="NaN"):
        solve_poisson(mesh, g=np.full(mesh.num_points, np.nan))


def test_nodal_flux_converges_to_the_callable_flux_at_second_order():
    g = lambda x: np.sin(3 * x[0]) + x[1] ** 2  # noqa: E731
    gaps = []
    for level in range(3):
        mesh = polygon_with_holes(4, 0.1, num_holes=2, refinements=level)
        exact = solve_poisson(mesh, f=1.0, dirichlet="outer", neumann="hole", flux=g)
        nodal = solve_poisson(mesh, f=1.0, dirichlet="outer", neumann="hole", flux=g(mesh.points.T))
        gaps.append(np.abs(exact - nodal).max())
    assert np.log2(gaps[1] / gaps[2]) > 1.7
