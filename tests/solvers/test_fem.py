"""The finite-element mesh wrapper refuses nodes that belong to no cell instead of dropping them silently."""
import numpy as np
import pytest

from graphops.errors import MeshError
from graphops.mesh import Mesh
from graphops.solvers import solve_elasticity, solve_poisson

SQUARE = np.asarray([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5]], dtype=float)
FAN = np.asarray([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])


def _with_stray_node() -> Mesh:
    return Mesh(np.vstack([SQUARE, [[3.0, 3.0]]]), {"triangle": FAN}, source="stray.msh")


@pytest.mark.parametrize("solve", [
    lambda m: solve_poisson(m, f=np.ones(m.num_points), dirichlet="all", g=np.zeros(m.num_points)),
    lambda m: solve_elasticity(m, fixed="all"),
])
def test_solvers_name_nodes_outside_every_cell(solve):
    with pytest.raises(MeshError, match=r"stray\.msh.*1 of 6 nodes \(e\.g\. node 5\) belong to no 2D cell"):
        solve(_with_stray_node())


def test_same_mesh_without_the_stray_node_solves_on_every_node():
    mesh = _with_stray_node().remove_unused_points()
    u = solve_poisson(mesh, f=np.zeros(5), dirichlet="all", g=SQUARE[:, 0] + 2 * SQUARE[:, 1])
    np.testing.assert_allclose(u, SQUARE[:, 0] + 2 * SQUARE[:, 1], atol=1e-12)  # P1 reproduces a linear u exactly
    assert solve_elasticity(mesh, fixed="all").displacement.shape == (5, 2)
