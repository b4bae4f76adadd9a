"""Each similarity law against the FEM solve of the scaled problem (the solver is the oracle).

A problem posed on a mesh ``L`` times larger and moved far from the origin, with
inputs in its own units, must have the solution of the framed problem (mesh
mapped into the unit box, inputs transformed by the law), mapped back by the law.
"""
import numpy as np
import pytest

from graphops.data.frame import Frame, map_into
from graphops.data.problems import ElasticityHoles, elasticity_sides
from graphops.data.similarity import ELASTICITY_STRESS, POISSON_DIRICHLET, POISSON_NEUMANN
from graphops.mesh import Mesh
from graphops.solvers import solve_elasticity, solve_poisson

L = 250.0
SHIFT = np.array([1.0e4, -3.0e3])
UNIT = Frame.from_box((0.0, 0.0), (1.0, 1.0))


@pytest.fixture(scope="module")
def big_mesh(holes_mesh):
    """The unit square with two holes, 250 times larger and far from the origin."""
    return Mesh(holes_mesh.points * L + SHIFT, dict(holes_mesh.cells), groups=dict(holes_mesh.groups))


def _user_inputs(mesh: Mesh):
    """A source and boundary function of the big mesh's own coordinates (X, Y)."""
    x, y = mesh.points.T
    f = 3.0e-4 * np.sin((x - SHIFT[0]) / 70.0) + 2.0e-5
    g = 1.0 + (x - SHIFT[0]) * (y - SHIFT[1]) / L**2
    return f, g


def test_frame_map_puts_the_big_mesh_on_the_unit_box(big_mesh, holes_mesh):
    frame_map = map_into(UNIT, big_mesh)
    assert frame_map.scale == pytest.approx(L)
    np.testing.assert_allclose(frame_map.points(big_mesh.points), holes_mesh.points, atol=1e-12)


def test_poisson_dirichlet_law_matches_fem_on_the_scaled_mesh(big_mesh):
    f, g = _user_inputs(big_mesh)
    u_big = solve_poisson(big_mesh, f=f, dirichlet="all", g=g)
    frame_map = map_into(UNIT, big_mesh)
    framed = POISSON_DIRICHLET.inputs_to_frame({"f": f, "g": g}, frame_map.scale)
    np.testing.assert_allclose(framed["g"], g)  # Dirichlet values unchanged
    np.testing.assert_allclose(framed["f"], f * L**2)
    u_frame = solve_poisson(frame_map.mesh(big_mesh), f=framed["f"], dirichlet="all", g=framed["g"])
    back = POISSON_DIRICHLET.output_from_frame(u_frame[:, None], frame_map.scale)[:, 0]
    np.testing.assert_allclose(back, u_big, rtol=1e-8, atol=1e-10 * np.abs(u_big).max())
    # the law is not vacuous: without f' = s^2 f the framed solve is another problem
    wrong = solve_poisson(frame_map.mesh(big_mesh), f=f, dirichlet="all", g=g)
    assert np.abs(wrong - u_big).max() > 0.1 * np.abs(u_big - g.mean()).max()


def test_poisson_neumann_law_matches_fem_on_the_scaled_mesh(big_mesh):
    f, g = _user_inputs(big_mesh)
    g = 1.0e-3 * np.cos((big_mesh.points[:, 1] - SHIFT[1]) / 90.0)
    u_big = solve_poisson(big_mesh, f=f, dirichlet=None, neumann="all", flux=g)
    frame_map = map_into(UNIT, big_mesh)
    framed = POISSON_NEUMANN.inputs_to_frame({"f": f, "g": g}, frame_map.scale)
    np.testing.assert_allclose(framed["g"], g * L)  # flux' = s * flux
    u_frame = solve_poisson(frame_map.mesh(big_mesh), f=framed["f"], dirichlet=None, neumann="all", flux=framed["g"])
    back = POISSON_NEUMANN.output_from_frame(u_frame[:, None], frame_map.scale)[:, 0]
    np.testing.assert_allclose(back, u_big, rtol=1e-7, atol=1e-9 * np.abs(u_big).max())


def test_elasticity_stress_is_invariant_and_independent_of_E(big_mesh, holes_mesh):
    """Traction t on the top, bottom clamped: von Mises unchanged by the scale and by E; displacement ~ L / E."""
    small = elasticity_sides(holes_mesh)
    big = elasticity_sides(big_mesh)
    t = [0.0, 2.5]
    ref = solve_elasticity(small, E=1.0, nu=0.3, fixed="bottom", traction="top", traction_value=t)
    steel = solve_elasticity(big, E=210e3, nu=0.3, fixed="bottom", traction="top", traction_value=t)
    framed = ELASTICITY_STRESS.inputs_to_frame({"g": np.full(big.num_points, 2.5)}, L)
    np.testing.assert_allclose(framed["g"], 2.5)  # the traction is a stress: unchanged
    vm_back = ELASTICITY_STRESS.output_from_frame(ref.von_mises[:, None], L)[:, 0]
    np.testing.assert_allclose(steel.von_mises, vm_back, rtol=1e-6, atol=1e-9 * ref.von_mises.max())
    np.testing.assert_allclose(steel.displacement, ref.displacement * L / 210e3, rtol=1e-6,
                               atol=1e-9 * np.abs(ref.displacement).max() * L / 210e3)


def test_problem_declares_its_law():
    assert ElasticityHoles(tiny=True).similarity is ELASTICITY_STRESS
    from graphops.data.problems import get_problem

    assert get_problem("poisson-dirichlet", tiny=True).similarity is POISSON_DIRICHLET
    assert get_problem("poisson-neumann", tiny=True).similarity is POISSON_NEUMANN
    assert get_problem("poisson-mixed", tiny=True).similarity is None  # no single law: g is value and flux
