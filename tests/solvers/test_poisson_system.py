"""PoissonSystem: one assembly and factorisation, many right-hand sides, the same solutions as poisson_fem."""
from __future__ import annotations

import numpy as np
import pytest

from graphops.errors import ConfigError
from graphops.solvers import PoissonSystem, poisson_fem


@pytest.mark.parametrize("parts", [{"dirichlet": "all"}, {"dirichlet": None, "neumann": "all"}])
@pytest.mark.parametrize("order", [1, 2])
def test_many_right_hand_sides_equal_separate_solves(holes_mesh, parts, order):
    rng = np.random.default_rng(order)
    n = holes_mesh.num_points
    a = 1.0 + rng.random(n)
    system = PoissonSystem(holes_mesh, a=a, order=order, **parts)
    for _ in range(3):
        f, g = rng.normal(size=n), rng.normal(size=n)
        want = poisson_fem(holes_mesh, f=f, a=a, g=g, flux=g, order=order, **parts)
        got = system.solve(f=f, g=g, flux=g)
        np.testing.assert_allclose(got.nodal(), want.nodal(), rtol=0, atol=1e-10 * np.abs(want.nodal()).max())
        assert got.source_shift == pytest.approx(want.source_shift, abs=1e-12)


def test_linear_solutions_are_exact_in_2d_and_3d(cube_mesh, square_mesh):
    x = square_mesh.points
    u = PoissonSystem(square_mesh).solve(g=1 + 2 * x[:, 0] - x[:, 1]).nodal()  # harmonic: P1 reproduces it
    np.testing.assert_allclose(u, 1 + 2 * x[:, 0] - x[:, 1], atol=1e-12)
    c = cube_mesh.points
    u3 = PoissonSystem(cube_mesh).solve(g=c[:, 0] + c[:, 2]).nodal()
    np.testing.assert_allclose(u3, c[:, 0] + c[:, 2], atol=1e-10)


def test_a_bad_coefficient_is_an_error(square_mesh):
    with pytest.raises(ConfigError, match="positive"):
        PoissonSystem(square_mesh, a=-1.0)


def test_large_3d_systems_use_cg_per_right_hand_side(cube_mesh, monkeypatch):
    import graphops.solvers.fem as fem

    monkeypatch.setattr(fem, "ITERATIVE_MIN_SIZE", 10)  # the cube counts as large: CG, nothing factorised
    system = PoissonSystem(cube_mesh)
    assert system.lu is None
    rng = np.random.default_rng(0)
    f, g = rng.normal(size=cube_mesh.num_points), rng.normal(size=cube_mesh.num_points)
    want = poisson_fem(cube_mesh, f=f, g=g).nodal()
    np.testing.assert_allclose(system.solve(f=f, g=g).nodal(), want, rtol=0, atol=1e-9 * np.abs(want).max())
