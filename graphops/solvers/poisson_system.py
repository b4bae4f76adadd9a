"""Poisson on one mesh, assembled and factorised once, solved for many right-hand sides.

:class:`PoissonSystem` solves the problem of :func:`graphops.solvers.poisson.poisson_fem`
(same forms, same boundary parts) for many sources ``f``, Dirichlet values ``g``
and fluxes on one mesh with one coefficient ``a``: ``graphops predict`` uses it
for ``--compare-fem`` with several queries.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import skfem

from ..errors import ConfigError
from ..mesh import Mesh
from .fem import Field, FemSolution, Selector, dof_values, element, fem_mesh, quadrature_field, select_facets, solve_sparse
from .poisson import _diffusion, _load


class PoissonSystem:
    """``-div(a grad u) = f`` on one mesh, assembled and factorised once, solved for many right-hand sides.

    The stiffness matrix, the boundary parts and the factorisation of the
    condensed system depend on the mesh, ``a`` and the boundary selection
    only; each :meth:`solve` assembles the load of its ``f`` (and flux) and
    imposes its Dirichlet values ``g``, then reuses the factorisation. The
    result is the solution :func:`graphops.solvers.poisson.poisson_fem` computes for the same inputs
    (to round-off: the same SuperLU factorisation, kept). Symmetric
    positive definite 3D systems above
    :data:`graphops.solvers.fem.ITERATIVE_MIN_SIZE` unknowns are solved by
    conjugate gradients per right-hand side, as :func:`graphops.solvers.fem.solve_sparse` does
    (nothing to factorise).

    Parameters
    ----------
    mesh : Mesh
    a : Field
        Diffusion coefficient (positive), shared by every solve.
    dirichlet, neumann : Selector
        Boundary parts, as in :func:`graphops.solvers.poisson.poisson_fem`.
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
        """The solution for one source ``f``, Dirichlet values ``g`` and Neumann flux (forms of :func:`graphops.solvers.poisson.poisson_fem`).

        Returns
        -------
        FemSolution
            As :func:`graphops.solvers.poisson.poisson_fem` returns it.
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
