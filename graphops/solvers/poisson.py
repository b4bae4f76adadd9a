"""Reference finite-element solver for the elliptic problem ``-div(a grad u) = f``.

Boundary conditions: ``u = g`` on the Dirichlet part and ``a du/dn = flux`` on
the Neumann part; the rest of the boundary is natural (zero flux). P1/P2
Lagrange elements on triangles and tetrahedra, Q1/Q2 on quadrilaterals and
hexahedra (mixed meshes are split into simplices), assembled with scikit-fem, Dirichlet values imposed by static condensation
(:func:`skfem.condense`), solved with a sparse direct solver.

Pure Neumann problems (no Dirichlet facet) are solvable only when
``int f dx + oint flux ds = 0``. The solver enforces this by shifting the
source by a constant, ``f <- f - c`` with ``c = (int f + oint flux) / |Omega|``
(reported as ``source_shift``), and returns the solution with zero integral
mean, ``int u dx = 0`` (a Lagrange multiplier for the constant mode).

See :mod:`graphops.solvers.fem` for how fields and boundary parts are given.
"""
from __future__ import annotations

from typing import Tuple, Union

import numpy as np
import scipy.sparse as sp
import skfem
from skfem.helpers import dot, grad

from ..errors import ConfigError
from ..mesh import Mesh
from .fem import Field, FemSolution, Selector, dof_values, element, fem_mesh, quadrature_field, select_facets, solve_sparse


@skfem.BilinearForm
def _diffusion(u, v, w):
    return w["a"] * dot(grad(u), grad(v))


@skfem.LinearForm
def _load(v, w):
    return w["f"] * v


def poisson_fem(
    mesh: Mesh,
    f: Field = 0.0,
    a: Field = 1.0,
    dirichlet: Selector = "all",
    g: Field = 0.0,
    neumann: Selector = None,
    flux: Field = 0.0,
    order: int = 1,
) -> FemSolution:
    """Solve ``-div(a grad u) = f`` and return the full finite-element solution.

    Parameters
    ----------
    mesh : Mesh
        A 2D or 3D volume mesh of any linear cells (see :func:`graphops.solvers.fem.fem_mesh`).
    f : Field
        Source: constant, callable ``f(x)`` with ``x`` of shape ``(d, ...)``, or nodal ``(N,)``.
    a : Field
        Diffusion coefficient (positive), same forms as ``f``.
    dirichlet : Selector
        Dirichlet part of the boundary: ``"all"`` (default), group name(s),
        a predicate on facet midpoints ``(F, d) -> (F,) bool``, or None.
    g : Field
        Dirichlet values, same forms as ``f``.
    neumann : Selector
        Facets where ``a du/dn = flux``; ``"rest"`` means every boundary facet
        that is not Dirichlet. Unselected non-Dirichlet facets get zero flux.
    flux : Field
        Neumann flux: constant, callable ``flux(x)`` or ``flux(x, n)`` with
        the outward unit normal ``n`` ``(d, ...)``, or nodal ``(N,)``.
    order : int
        1 (P1/Q1) or 2 (P2/Q2).

    Returns
    -------
    FemSolution
        ``.nodal()`` gives ``u`` at the mesh nodes ``(N,)``; ``.source_shift``
        is the compatibility shift of a pure Neumann problem.
    """
    fm = fem_mesh(mesh)
    elem = element(fm, order)
    basis = skfem.Basis(fm.sk, elem)
    a_q = quadrature_field(basis, a, fm, name="coefficient a")
    if np.any(a_q <= 0):
        raise ConfigError("the diffusion coefficient a must be positive everywhere")
    K = _diffusion.assemble(basis, a=a_q)
    b = _load.assemble(basis, f=quadrature_field(basis, f, fm, name="source f"))

    d_facets = select_facets(fm, dirichlet, "Dirichlet")
    if isinstance(neumann, str) and neumann == "rest":
        n_facets = np.setdiff1d(fm.sk.boundary_facets(), d_facets)
    else:
        n_facets = select_facets(fm, neumann, "Neumann")
    if len(n_facets):
        fbasis = skfem.FacetBasis(fm.sk, elem, facets=n_facets)
        b = b + _load.assemble(fbasis, f=quadrature_field(fbasis, flux, fm, name="Neumann flux"))

    if len(d_facets):
        D = basis.get_dofs(d_facets).all()
        x = dof_values(basis, g, fm, name="Dirichlet values g")
        A, rhs, xI, I = skfem.condense(K, b, x=x, D=D)
        x[I] = solve_sparse(A, rhs, spd=True, dim=fm.dim)
        return FemSolution(basis, x, fm)

    # Pure Neumann: shift the source for compatibility, pin the mean with a multiplier.
    ones = _load.assemble(basis, f=np.ones_like(a_q))  # int phi_i dx; sums to |Omega|
    shift = float(b.sum() / ones.sum())
    b = b - shift * ones
    A = sp.bmat([[K, ones[:, None]], [ones[None, :], None]], format="csc")
    x = solve_sparse(A, np.concatenate([b, [0.0]]))[:-1]
    return FemSolution(basis, x, fm, source_shift=shift)


def solve_poisson(
    mesh: Mesh,
    f: Field = 0.0,
    a: Field = 1.0,
    dirichlet: Selector = "all",
    g: Field = 0.0,
    neumann: Selector = None,
    flux: Field = 0.0,
    order: int = 1,
    return_shift: bool = False,
) -> Union[np.ndarray, Tuple[np.ndarray, float]]:
    """Solve ``-div(a grad u) = f`` and return ``u`` at the mesh nodes.

    Parameters are those of :func:`poisson_fem`.

    Returns
    -------
    u : ndarray, shape (N,)
        Nodal solution (for P2, the values at the P1 nodes).
    shift : float
        Only with ``return_shift=True``: the constant subtracted from ``f`` for
        a pure Neumann problem (0 when there is a Dirichlet part).
    """
    sol = poisson_fem(mesh, f=f, a=a, dirichlet=dirichlet, g=g, neumann=neumann, flux=flux, order=order)
    return (sol.nodal(), sol.source_shift) if return_shift else sol.nodal()
