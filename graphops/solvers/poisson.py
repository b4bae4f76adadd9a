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


class PoissonSystem:
    """``-div(a grad u) = f`` on one mesh, assembled and factorised once, solved for many right-hand sides.

    The stiffness matrix, the boundary parts and the factorisation of the
    condensed system depend on the mesh, ``a`` and the boundary selection
    only; each :meth:`solve` assembles the load of its ``f`` (and flux) and
    imposes its Dirichlet values ``g``, then reuses the factorisation. The
    result is the solution :func:`poisson_fem` computes for the same inputs
    (to round-off: the same SuperLU factorisation, kept). Symmetric
    positive definite 3D systems above
    :data:`graphops.solvers.fem.ITERATIVE_MIN_SIZE` unknowns are solved by
    conjugate gradients per right-hand side, as :func:`solve_sparse` does
    (nothing to factorise).

    Parameters
    ----------
    mesh : Mesh
    a : Field
        Diffusion coefficient (positive), shared by every solve.
    dirichlet, neumann : Selector
        Boundary parts, as in :func:`poisson_fem`.
    order : int
        1 (P1/Q1) or 2 (P2/Q2).

    Raises
    ------
    ConfigError
        A non-positive coefficient or a singular system.
    """

    def __init__(self, mesh: Mesh, a: Field = 1.0, dirichlet: Selector = "all", neumann: Selector = None,
                 order: int = 1) -> None:
        import scipy.sparse.linalg as spla

        from .fem import ITERATIVE_MIN_SIZE

        self.fm = fm = fem_mesh(mesh)
        self.basis = skfem.Basis(fm.sk, element(fm, order))
        a_q = quadrature_field(self.basis, a, fm, name="coefficient a")
        if np.any(a_q <= 0):
            raise ConfigError("the diffusion coefficient a must be positive everywhere")
        K = _diffusion.assemble(self.basis, a=a_q)
        d_facets = select_facets(fm, dirichlet, "Dirichlet")
        if isinstance(neumann, str) and neumann == "rest":
            n_facets = np.setdiff1d(fm.sk.boundary_facets(), d_facets)
        else:
            n_facets = select_facets(fm, neumann, "Neumann")
        self.fbasis = skfem.FacetBasis(fm.sk, self.basis.elem, facets=n_facets) if len(n_facets) else None
        if len(d_facets):
            self.D = self.basis.get_dofs(d_facets).all()
            self.I = self.basis.complement_dofs(self.D)
            K = sp.csr_matrix(K)
            self.A = K[self.I][:, self.I]
            self.K_ID = K[self.I][:, self.D]
            self.ones = None
            iterative = fm.dim == 3 and self.A.shape[0] > ITERATIVE_MIN_SIZE
        else:
            self.D = None
            self.ones = _load.assemble(self.basis, f=np.ones_like(a_q))
            self.A = sp.bmat([[K, self.ones[:, None]], [self.ones[None, :], None]], format="csc")
            iterative = False
        self.lu = None
        if not iterative:
            try:
                self.lu = spla.splu(sp.csc_matrix(self.A))
            except RuntimeError as exc:  # "Factor is exactly singular"
                raise ConfigError(f"the finite-element system is singular ({exc}); is enough of the boundary fixed?") \
                    from None

    def _solve(self, rhs: np.ndarray, spd: bool) -> np.ndarray:
        if self.lu is None:
            return solve_sparse(self.A, rhs, spd=spd, dim=self.fm.dim)
        x = self.lu.solve(rhs)
        if not np.all(np.isfinite(x)):
            raise ConfigError("the finite-element solve produced NaN; check the coefficients and boundary conditions")
        return x

    def solve(self, f: Field = 0.0, g: Field = 0.0, flux: Field = 0.0) -> FemSolution:
        """The solution for one source ``f``, Dirichlet values ``g`` and Neumann flux (forms of :func:`poisson_fem`).

        Returns
        -------
        FemSolution
            As :func:`poisson_fem` returns it.
        """
        fm, basis = self.fm, self.basis
        b = _load.assemble(basis, f=quadrature_field(basis, f, fm, name="source f"))
        if self.fbasis is not None:
            b = b + _load.assemble(self.fbasis, f=quadrature_field(self.fbasis, flux, fm, name="Neumann flux"))
        if self.D is not None:
            x = dof_values(basis, g, fm, name="Dirichlet values g")
            x[self.I] = self._solve(b[self.I] - self.K_ID @ x[self.D], spd=True)
            return FemSolution(basis, x, fm)
        shift = float(b.sum() / self.ones.sum())
        b = b - shift * self.ones
        x = self._solve(np.concatenate([b, [0.0]]), spd=False)[:-1]
        return FemSolution(basis, x, fm, source_shift=shift)
