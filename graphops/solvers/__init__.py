"""Reference solvers: finite elements on scikit-fem (Poisson, linear elasticity).

Plain functions on numpy arrays taking a :class:`graphops.mesh.Mesh`; see
:mod:`graphops.solvers.fem` for how coefficients, sources and boundary parts
are given (constants, callables ``fn(x)`` with ``x`` of shape ``(d, ...)``,
nodal arrays, physical group names or predicates on facet midpoints).
"""
from .elasticity import ElasticitySolution, elasticity_fem, lame, nodal_von_mises, solve_elasticity
from .fem import FemMesh, FemSolution, fem_mesh, select_facets
from .poisson import poisson_fem, solve_poisson
from .poisson_system import PoissonSystem

__all__ = [
    "solve_poisson",
    "poisson_fem",
    "PoissonSystem",
    "solve_elasticity",
    "elasticity_fem",
    "ElasticitySolution",
    "nodal_von_mises",
    "lame",
    "FemMesh",
    "FemSolution",
    "fem_mesh",
    "select_facets",
]
