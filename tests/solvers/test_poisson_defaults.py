"""Poisson solver defaults, the a = 0 limit and the labels in its error messages.

Defaults (documented in the signature): f = 0, a = 1, g = 0, flux = 0, P1. The oracle is
u = x on the unit square: -div(grad x) = 0, u = 0 on the left side, and on the right side
a du/dn = 1 * 1 = 1; top and bottom carry du/dn = 0. P1 elements reproduce a linear u exactly.
"""
import numpy as np
import pytest

from graphops.errors import ConfigError
from graphops.solvers import poisson_fem, solve_poisson


def left(mid):
    return np.isclose(mid[:, 0], 0.0)


def right(mid):
    return np.isclose(mid[:, 0], 1.0)


def test_defaults_are_zero_data_unit_coefficient_and_p1(square_mesh):
    assert np.all(solve_poisson(square_mesh) == 0.0)
    assert np.all(solve_poisson(square_mesh, dirichlet=left, neumann=right) == 0.0)
    assert len(poisson_fem(square_mesh).dofs) == square_mesh.num_points
    u = solve_poisson(square_mesh, dirichlet=left, neumann=right, flux=1.0)
    np.testing.assert_allclose(u, square_mesh.points[:, 0], atol=1e-10)


def test_a_zero_coefficient_is_refused(square_mesh):
    with pytest.raises(ConfigError, match="positive"):
        solve_poisson(square_mesh, a=0.0)


def test_errors_name_the_input_that_is_wrong(square_mesh):
    bad = np.ones(3)
    cases = [
        (dict(f=bad), "source f"),
        (dict(a=bad), "coefficient a"),
        (dict(g=bad), "Dirichlet values g"),
        (dict(dirichlet=left, neumann=right, flux=bad), "Neumann flux"),
        (dict(dirichlet=[1]), "Dirichlet boundary selector"),
        (dict(neumann=[1]), "Neumann boundary selector"),
    ]
    for kwargs, words in cases:
        with pytest.raises(ConfigError, match=words):
            solve_poisson(square_mesh, **kwargs)


def test_poisson_fem_defaults_and_the_rest_of_the_boundary_as_neumann(square_mesh):
    x = square_mesh.points[:, 0]
    assert np.all(poisson_fem(square_mesh).nodal() == 0.0)
    assert np.all(poisson_fem(square_mesh, dirichlet=left, neumann=right).nodal() == 0.0)
    np.testing.assert_allclose(poisson_fem(square_mesh, dirichlet=left, neumann=right, flux=1.0).nodal(), x, atol=1e-10)
    # "rest": every facet not in the Dirichlet part; du/dn of u = x is the x component of the outward normal
    u = poisson_fem(square_mesh, dirichlet=left, neumann="rest", flux=lambda X, n: n[0]).nodal()
    np.testing.assert_allclose(u, x, atol=1e-10)


def test_a_named_neumann_group_gets_the_flux_and_nothing_else():
    # 3 x 3 nodes on the unit square, 8 triangles; the group "right" is the two edges on x = 1.
    # With u = 0 on the left and flux 1 on "right" only, top and bottom keep du/dn = 0: u = x.
    # (Were "right" read as "every non-Dirichlet facet", top and bottom would get the flux too.)
    from graphops.mesh import Mesh, PhysicalGroup

    grid = np.array([[x, y] for y in (0.0, 0.5, 1.0) for x in (0.0, 0.5, 1.0)])
    quads = [(0, 1, 4, 3), (1, 2, 5, 4), (3, 4, 7, 6), (4, 5, 8, 7)]
    triangles = np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))])
    right_edges = np.array([[2, 5], [5, 8]])
    mesh = Mesh(grid, cells={"triangle": triangles, "line": right_edges},
                groups={"right": PhysicalGroup("right", 1, cells={"line": right_edges})})
    u = poisson_fem(mesh, dirichlet=left, neumann="right", flux=1.0).nodal()
    np.testing.assert_allclose(u, grid[:, 0], atol=1e-12)
