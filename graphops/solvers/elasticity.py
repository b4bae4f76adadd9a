"""Reference finite-element solver for small-strain linear elasticity in 2D and 3D.

``-div sigma(u) = body_force`` with ``sigma = 2 mu eps(u) + lambda tr(eps(u)) I``
and Lamé parameters from Young's modulus ``E`` and Poisson's ratio ``nu``:
``lambda = E nu / ((1 + nu)(1 - 2 nu))``, ``mu = E / (2 (1 + nu))``. Boundary
conditions: ``u = fixed_value`` on the fixed part, ``sigma n = traction`` on the
traction part, traction-free elsewhere. 2D is plane strain by default
(``eps_zz = 0``, so ``sigma_zz = lambda (eps_xx + eps_yy)``); ``plane="stress"``
uses the plane-stress ``lambda* = E nu / (1 - nu^2)`` and ``sigma_zz = 0``.

Nodal von Mises stress: the von Mises stress at the quadrature points is
projected onto continuous P1 functions (``"l2"``: solve ``M s = int vm phi``)
or averaged over the cells around each node weighted by cell volume
(``"average"``, never negative).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import skfem
from skfem.helpers import dot

from ..errors import ConfigError
from ..mesh import Mesh
from .fem import Field, FemSolution, Selector, dof_values, element, fem_mesh, p1_element, quadrature_field, select_facets, solve_sparse


@dataclass
class ElasticityFem(FemSolution):
    """A vector :class:`FemSolution` that remembers its material (``lam``, ``mu``) and 2D model."""

    lam: float = 0.0
    mu: float = 0.0
    plane: str = "strain"


class ElasticitySolution(NamedTuple):
    """Displacement ``(N, d)`` and von Mises stress ``(N,)`` at the mesh nodes."""

    displacement: np.ndarray
    von_mises: np.ndarray


def lame(E: float, nu: float, plane: str = "strain") -> tuple:
    """Lamé parameters ``(lambda, mu)``; ``plane="stress"`` gives the 2D plane-stress lambda."""
    if not E > 0:
        raise ConfigError(f"Young's modulus E must be positive, got {E!r}")
    if not -1.0 < nu < 0.5:
        raise ConfigError(f"Poisson's ratio nu must be in (-1, 0.5), got {nu!r}")
    mu = E / (2.0 * (1.0 + nu))
    lam = E * nu / (1.0 - nu**2) if plane == "stress" else E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))
    return lam, mu


@skfem.BilinearForm
def _stiffness(u, v, w):
    # 2 mu eps(u):eps(v) = mu (grad u : grad v + grad u : grad v^T), written with einsum for speed
    gu, gv = u.grad, v.grad
    shear = np.einsum("ij...,ij...->...", gu, gv) + np.einsum("ij...,ji...->...", gu, gv)
    return w["mu"] * shear + w["lam"] * np.einsum("ii...->...", gu) * np.einsum("ii...->...", gv)


@skfem.LinearForm
def _vector_load(v, w):
    return dot(w["t"], v)


@skfem.BilinearForm
def _mass(u, v, w):
    return u * v


@skfem.LinearForm
def _scalar_load(v, w):
    return w["s"] * v


def elasticity_fem(
    mesh: Mesh,
    E: float = 1.0,
    nu: float = 0.3,
    fixed: Selector = "all",
    fixed_value: Field = 0.0,
    traction: Selector = None,
    traction_value: Field = 0.0,
    body_force: Field = 0.0,
    order: int = 1,
    plane: str = "strain",
) -> ElasticityFem:
    """Solve linear elasticity and return the full finite-element displacement.

    Parameters
    ----------
    mesh : Mesh
        A 2D or 3D volume mesh of any linear cells (see :func:`graphops.solvers.fem.fem_mesh`).
    E, nu : float
        Young's modulus and Poisson's ratio.
    fixed : Selector
        Boundary part with prescribed displacement (must be non-empty).
    fixed_value : Field
        Prescribed displacement: constant ``(d,)``, callable ``(d, ...) -> (d, ...)``
        or nodal ``(N, d)``; 0 clamps.
    traction : Selector
        Boundary part loaded by ``traction_value``.
    traction_value : Field
        Surface traction ``sigma n``: constant ``(d,)``, callable ``t(x)`` or
        ``t(x, n)``, or nodal ``(N, d)``.
    body_force : Field
        Volume load, same forms.
    order : int
        1 (P1) or 2 (P2).
    plane : {"strain", "stress"}
        2D model (ignored in 3D).

    Returns
    -------
    ElasticityFem
        Vector-valued; ``.nodal()`` is the displacement ``(N, d)``.
    """
    if plane not in ("strain", "stress"):
        raise ConfigError(f"plane must be 'strain' or 'stress', got {plane!r}")
    fm = fem_mesh(mesh)
    d = fm.dim
    lam, mu = lame(E, nu, plane if d == 2 else "strain")
    elem = element(fm, order, vector=True)
    basis = skfem.Basis(fm.sk, elem)
    K = _stiffness.assemble(basis, lam=lam, mu=mu)
    b = _vector_load.assemble(basis, t=quadrature_field(basis, body_force, fm, d, "body force"))
    t_facets = select_facets(fm, traction, "traction")
    if len(t_facets):
        fbasis = skfem.FacetBasis(fm.sk, elem, facets=t_facets)
        b = b + _vector_load.assemble(fbasis, t=quadrature_field(fbasis, traction_value, fm, d, "traction"))
    d_facets = select_facets(fm, fixed, "fixed")
    if len(d_facets) == 0:
        raise ConfigError("linear elasticity needs a non-empty fixed boundary part (the body would float)")
    D = basis.get_dofs(d_facets).all()
    x = dof_values(basis, fixed_value, fm, d, "fixed displacement")
    A, rhs, _, I = skfem.condense(K, b, x=x, D=D)
    x[I] = solve_sparse(A, rhs, spd=True, dim=d)
    return ElasticityFem(basis, x, fm, components=d, lam=lam, mu=mu, plane=plane)


def von_mises_at_quadrature(sol: ElasticityFem, basis=None) -> np.ndarray:
    """Von Mises stress ``(nelems, nqp)`` of an elasticity solution at the quadrature points of ``basis``."""
    basis = basis or sol.basis
    lam, mu = sol.lam, sol.mu
    grad_u = basis.interpolate(sol.dofs).grad  # (d, d, nelems, nqp)
    eps = 0.5 * (grad_u + np.swapaxes(grad_u, 0, 1))
    d = eps.shape[0]
    tr = np.trace(eps, axis1=0, axis2=1)
    sigma = 2.0 * mu * eps + lam * tr * np.eye(d)[:, :, None, None]
    if d == 2:
        if sol.plane == "stress":
            szz = np.zeros_like(tr)
        else:
            szz = lam * tr
        sxx, syy, sxy = sigma[0, 0], sigma[1, 1], sigma[0, 1]
        return np.sqrt(0.5 * ((sxx - syy) ** 2 + (syy - szz) ** 2 + (szz - sxx) ** 2) + 3.0 * sxy**2)
    s = sigma
    return np.sqrt(
        0.5 * ((s[0, 0] - s[1, 1]) ** 2 + (s[1, 1] - s[2, 2]) ** 2 + (s[2, 2] - s[0, 0]) ** 2)
        + 3.0 * (s[0, 1] ** 2 + s[1, 2] ** 2 + s[0, 2] ** 2)
    )


def nodal_von_mises(sol: ElasticityFem, method: str = "l2") -> np.ndarray:
    """Von Mises stress ``(N,)`` at the mesh nodes (see the module docstring for ``method``)."""
    fm = sol.fem
    p1 = skfem.Basis(fm.sk, p1_element(fm), intorder=2 * sol.basis.elem.maxdeg)
    vm = von_mises_at_quadrature(sol, skfem.Basis(fm.sk, sol.basis.elem, quadrature=(p1.X, p1.W)))
    if method == "l2":
        M = _mass.assemble(p1)
        return solve_sparse(M, _scalar_load.assemble(p1, s=vm), spd=True, dim=fm.dim)[: fm.num_nodes]
    if method == "average":
        vol = p1.dx.sum(axis=1)  # (nelems,)
        cell_vm = (vm * p1.dx).sum(axis=1) / vol
        t = fm.sk.t
        num = np.bincount(t.ravel(), weights=np.repeat((cell_vm * vol)[None], t.shape[0], axis=0).ravel(), minlength=fm.sk.nvertices)
        den = np.bincount(t.ravel(), weights=np.repeat(vol[None], t.shape[0], axis=0).ravel(), minlength=fm.sk.nvertices)
        return (num / den)[: fm.num_nodes]
    raise ConfigError(f"von Mises method must be 'l2' or 'average', got {method!r}")


def solve_elasticity(
    mesh: Mesh,
    E: float = 1.0,
    nu: float = 0.3,
    fixed: Selector = "all",
    fixed_value: Field = 0.0,
    traction: Selector = None,
    traction_value: Field = 0.0,
    body_force: Field = 0.0,
    order: int = 1,
    plane: str = "strain",
    stress: str = "l2",
) -> ElasticitySolution:
    """Solve linear elasticity; return nodal displacement and von Mises stress.

    Parameters are those of :func:`elasticity_fem`, plus ``stress`` (``"l2"``
    projection or volume-weighted ``"average"``) for the nodal von Mises stress.

    Returns
    -------
    ElasticitySolution
        ``displacement`` ``(N, d)`` (for P2 the values at the P1 nodes) and
        ``von_mises`` ``(N,)``.
    """
    sol = elasticity_fem(mesh, E, nu, fixed, fixed_value, traction, traction_value, body_force, order, plane)
    return ElasticitySolution(sol.nodal(), nodal_von_mises(sol, stress))
