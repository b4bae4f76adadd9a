"""Shared finite-element plumbing on scikit-fem: meshes, boundary selection, data fields, solutions.

Conventions used by every solver of :mod:`graphops.solvers`:

* A **callable** field takes coordinates ``x`` of shape ``(d, ...)`` (``x[0]``
  is the x coordinate array, as scikit-fem passes them) and returns values of
  shape ``(...)`` (scalar) or ``(d, ...)`` (vector). A boundary flux/traction
  callable may take a second argument, the outward unit normal ``n`` of the
  same shape as ``x``.
* A **nodal** field is an array with one row per mesh node, ``(N,)`` or
  ``(N, d)``; it is interpolated with P1 shape functions.
* A **constant** is a float (scalar) or a ``(d,)`` sequence (vector).
* A **boundary selector** picks boundary facets: ``None`` (none), ``"all"``
  (every boundary facet), a physical group name or a list of names (groups of
  the mesh's facet dimension), or a predicate ``fn(midpoints (F, d)) -> (F,) bool``
  on the midpoints of the boundary facets.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import skfem

from ..boundary import row_keys
from ..errors import ConfigError, MeshError
from ..mesh import Mesh

Field = Union[float, Sequence[float], np.ndarray, Callable[..., np.ndarray]]
Selector = Union[None, str, Sequence[str], Callable[[np.ndarray], np.ndarray]]

_ELEMENTS = {
    ("triangle", 1): skfem.ElementTriP1,
    ("triangle", 2): skfem.ElementTriP2,
    ("tetra", 1): skfem.ElementTetP1,
    ("tetra", 2): skfem.ElementTetP2,
}


@dataclass
class FemMesh:
    """A graphops mesh and its scikit-fem twin (same node numbering).

    Attributes
    ----------
    mesh : Mesh
    sk : skfem.Mesh
        ``MeshTri`` or ``MeshTet``.
    cell_type : str
        ``"triangle"`` or ``"tetra"``.
    """

    mesh: Mesh
    sk: skfem.Mesh
    cell_type: str

    @property
    def dim(self) -> int:
        return int(self.sk.dim())


def fem_mesh(mesh: Mesh) -> FemMesh:
    """Wrap a triangle (2D) or tetrahedron (3D) mesh for scikit-fem.

    Raises
    ------
    MeshError
        For meshes with other or mixed volume cells, or 3D points on a 2D mesh.
    """
    mesh.validate(require_cells=True)
    volume = mesh.volume_cells()
    if len(volume) != 1 or next(iter(volume)) not in ("triangle", "tetra"):
        found = ", ".join(volume)
        raise MeshError(f"the finite-element solvers need a pure triangle or tetrahedron mesh, got {found}", mesh.source)
    cell_type, cells = next(iter(volume.items()))
    points = mesh.points
    if cell_type == "triangle":
        if points.shape[1] == 3:
            if np.ptp(points[:, 2]) > 0:
                raise MeshError("a triangle mesh for the 2D solvers must be planar (z constant)", mesh.source)
            points = points[:, :2]
        sk = skfem.MeshTri(np.ascontiguousarray(points.T), np.ascontiguousarray(cells.T))
    else:
        sk = skfem.MeshTet(np.ascontiguousarray(points.T), np.ascontiguousarray(cells.T))
    return FemMesh(mesh, sk, cell_type)


def element(fm: FemMesh, order: int, vector: bool = False) -> skfem.Element:
    """Lagrange element of ``order`` 1 or 2 on the mesh's cells (vector-valued when asked)."""
    if order not in (1, 2):
        raise ConfigError(f"finite-element order must be 1 or 2, got {order!r}")
    elem = _ELEMENTS[(fm.cell_type, order)]()
    return skfem.ElementVector(elem) if vector else elem


def p1_element(fm: FemMesh) -> skfem.Element:
    """The scalar P1 element of the mesh's cell type."""
    return _ELEMENTS[(fm.cell_type, 1)]()


# ---------------------------------------------------------------- boundary selection
def _facet_index(fm: FemMesh) -> tuple:
    facets = np.sort(fm.sk.facets.T, axis=1)
    keys = row_keys(facets, fm.sk.nvertices)
    order = np.argsort(keys, kind="stable")
    return keys[order], order


def select_facets(fm: FemMesh, selector: Selector, role: str = "boundary") -> np.ndarray:
    """Indices of scikit-fem boundary facets picked by ``selector`` (see the module docstring).

    Parameters
    ----------
    fm : FemMesh
    selector : None, "all", str, list of str, or callable
    role : str
        Word used in error messages (``"Dirichlet"``, ``"traction"``...).

    Returns
    -------
    ndarray, shape (F,), int64
        Sorted unique facet indices (into ``fm.sk.facets``).
    """
    boundary = fm.sk.boundary_facets()
    if selector is None:
        return np.zeros(0, dtype=np.int64)
    if isinstance(selector, str) and selector == "all":
        return np.sort(boundary).astype(np.int64)
    if callable(selector):
        mid = fm.sk.p[:, fm.sk.facets[:, boundary]].mean(axis=1).T
        keep = np.asarray(selector(mid), dtype=bool)
        if keep.shape != (len(boundary),):
            raise ConfigError(f"the {role} predicate must return one bool per facet midpoint, got shape {keep.shape}")
        return np.sort(boundary[keep]).astype(np.int64)
    names = [selector] if isinstance(selector, str) else list(selector)
    keys, order = _facet_index(fm)
    facet_type = "line" if fm.dim == 2 else "triangle"
    picked = []
    for name in names:
        if not isinstance(name, str):
            raise ConfigError(f"a {role} boundary selector must be 'all', group names or a predicate, got {name!r}")
        group = fm.mesh.group(name)
        if group.dim != fm.dim - 1 or facet_type not in group.cells:
            raise MeshError(f"physical group {name!r} is not a set of boundary {facet_type}s (dim {group.dim})", fm.mesh.source)
        conn = np.sort(group.cells[facet_type], axis=1)
        gkeys = row_keys(conn, fm.sk.nvertices)
        pos = np.searchsorted(keys, gkeys)
        pos = np.minimum(pos, len(keys) - 1)
        if not np.all(keys[pos] == gkeys):
            raise MeshError(f"physical group {name!r} has {facet_type}s that are not facets of the mesh", fm.mesh.source)
        picked.append(order[pos])
    facets = np.unique(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)
    return facets.astype(np.int64)


def facet_nodes(fm: FemMesh, facets: np.ndarray) -> np.ndarray:
    """Boolean mask ``(N,)`` of the mesh nodes on the given facets."""
    mask = np.zeros(fm.sk.nvertices, dtype=bool)
    mask[fm.sk.facets[:, facets].ravel()] = True
    return mask


# ---------------------------------------------------------------- fields
def _takes_normal(fn: Callable) -> bool:
    try:
        params = [
            p for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
        varargs = any(p.kind == p.VAR_POSITIONAL for p in inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    return len(params) >= 2 or varargs


def _nodal(value, num_nodes: int, components: int, name: str) -> Optional[np.ndarray]:
    """A nodal array ``(N,)`` / ``(N, c)`` checked for shape, or None if ``value`` is not one."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0 or (components > 1 and arr.shape == (components,)):
        return None
    num_nodes = int(num_nodes)
    expected = (num_nodes,) if components == 1 else (num_nodes, components)
    if arr.shape != expected:
        const = "a number" if components == 1 else f"a number or a vector of {components} numbers"
        raise ConfigError(f"{name} must be {const}, a callable or a nodal array of shape {expected}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{name} has NaN or infinite values")
    return arr


def quadrature_field(basis, value: Field, fm: FemMesh, components: int = 1, name: str = "field"):
    """Values of a field at the quadrature points of ``basis``.

    Parameters
    ----------
    basis : skfem CellBasis or FacetBasis
    value : Field
        Constant, callable ``fn(x)`` (or ``fn(x, n)`` on a facet basis) or nodal array.
    fm : FemMesh
    components : int
        1 for scalars, ``d`` for vectors.
    name : str
        Name used in error messages.

    Returns
    -------
    ndarray
        Shape ``(nelems, nqp)`` for scalars, ``(d, nelems, nqp)`` for vectors.
    """
    x = np.asarray(basis.global_coordinates())
    shape = x.shape[1:] if components == 1 else (components,) + x.shape[1:]
    if callable(value):
        if _takes_normal(value):
            if not hasattr(basis, "normals"):
                raise ConfigError(f"{name} takes a normal, which only boundary data can")
            out = value(x, np.asarray(basis.normals))
        else:
            out = value(x)
        out = np.broadcast_to(np.asarray(out, dtype=np.float64), shape)
        return np.array(out)
    nodal = _nodal(value, fm.sk.nvertices, components, name)
    if nodal is None:
        const = np.asarray(value, dtype=np.float64)
        if const.ndim == 0:
            return np.full(shape, float(const))
        if const.shape != (components,):
            raise ConfigError(f"{name} must be a number or a vector of {components} numbers, got shape {const.shape}")
        return np.broadcast_to(const.reshape((components,) + (1,) * (len(shape) - 1)), shape).copy()
    p1 = basis.with_element(p1_element(fm))
    if components == 1:
        return np.asarray(p1.interpolate(nodal))
    return np.stack([np.asarray(p1.interpolate(nodal[:, c])) for c in range(components)])


def dof_values(basis, value: Field, fm: FemMesh, components: int = 1, name: str = "field") -> np.ndarray:
    """Interpolate a field onto every degree of freedom of a Lagrange ``basis``.

    Vertex dofs take the value at the node; the mid-edge dofs of P2 take the
    value at the edge midpoint (callables) or the mean of the edge's two nodal
    values (nodal arrays).

    Returns
    -------
    ndarray, shape (basis.N,)
    """
    sk = fm.sk
    x = np.zeros(basis.N)
    edges = sk.facets if fm.dim == 2 else sk.edges
    mid_dofs = basis.facet_dofs if fm.dim == 2 else basis.edge_dofs
    has_mid = mid_dofs.size > 0
    if callable(value):
        at_nodes = np.asarray(value(sk.p), dtype=np.float64)
        at_mid = np.asarray(value(sk.p[:, edges].mean(axis=1)), dtype=np.float64) if has_mid else None
        if components == 1:
            at_nodes = np.broadcast_to(at_nodes, (sk.nvertices,))[None]
            at_mid = None if at_mid is None else np.broadcast_to(at_mid, (edges.shape[1],))[None]
        else:
            at_nodes = np.broadcast_to(at_nodes, (components, sk.nvertices))
            at_mid = None if at_mid is None else np.broadcast_to(at_mid, (components, edges.shape[1]))
    else:
        nodal = _nodal(value, sk.nvertices, components, name)
        if nodal is None:
            const = np.asarray(value, dtype=np.float64)
            if const.ndim and const.shape != (components,):
                raise ConfigError(f"{name} must be a number or a vector of {components} numbers, got shape {const.shape}")
            const = np.broadcast_to(const, (components,)).reshape(components, 1)
            at_nodes = np.broadcast_to(const, (components, sk.nvertices))
            at_mid = np.broadcast_to(const, (components, edges.shape[1])) if has_mid else None
        else:
            at_nodes = nodal.reshape(sk.nvertices, components).T
            at_mid = 0.5 * (at_nodes[:, edges[0]] + at_nodes[:, edges[1]]) if has_mid else None
    for c in range(components):
        x[basis.nodal_dofs[c]] = at_nodes[c]
        if has_mid:
            x[mid_dofs[c]] = at_mid[c]
    return x


# ---------------------------------------------------------------- linear algebra
#: Above this many unknowns, symmetric positive definite 3D systems go to conjugate gradients.
ITERATIVE_MIN_SIZE = 5000


def solve_sparse(A: sp.spmatrix, b: np.ndarray, spd: bool = False, dim: int = 2) -> np.ndarray:
    """Solve ``A x = b``; a singular matrix or a NaN result becomes a :class:`ConfigError`.

    2D systems and small or indefinite ones use the sparse direct solver
    (SuperLU, COLAMD ordering). Symmetric positive definite 3D systems with
    more than :data:`ITERATIVE_MIN_SIZE` unknowns use Jacobi-preconditioned
    conjugate gradients (relative residual 1e-12), which is much faster there,
    falling back to the direct solver if CG does not converge.
    """
    if spd and dim == 3 and A.shape[0] > ITERATIVE_MIN_SIZE:
        A = sp.csr_matrix(A)
        diag = A.diagonal()
        if np.all(diag > 0):
            x, info = spla.cg(A, b, rtol=1e-12, atol=0.0, M=sp.diags(1.0 / diag), maxiter=20 * A.shape[0])
            if info == 0 and np.all(np.isfinite(x)):
                return x
    try:
        x = spla.spsolve(sp.csc_matrix(A), b)
    except RuntimeError as exc:  # "Factor is exactly singular"
        raise ConfigError(f"the finite-element system is singular ({exc}); is enough of the boundary fixed?") from None
    if not np.all(np.isfinite(x)):
        raise ConfigError("the finite-element solve produced NaN; check the coefficients and boundary conditions")
    return x


# ---------------------------------------------------------------- solutions
@dataclass
class FemSolution:
    """A finite-element solution: its basis and degrees of freedom.

    Attributes
    ----------
    basis : skfem.CellBasis
    dofs : ndarray, shape (basis.N,)
    fem : FemMesh
    components : int
        1 (scalar) or ``d`` (vector).
    source_shift : float
        Constant subtracted from the source to make a pure Neumann problem
        compatible (0 otherwise).
    """

    basis: object
    dofs: np.ndarray
    fem: FemMesh
    components: int = 1
    source_shift: float = 0.0

    def nodal(self) -> np.ndarray:
        """Values at the mesh nodes: ``(N,)`` for scalars, ``(N, d)`` for vectors."""
        values = self.dofs[self.basis.nodal_dofs]  # (c, N)
        return values[0].copy() if self.components == 1 else np.ascontiguousarray(values.T)

    def l2_error(self, exact: Callable[[np.ndarray], np.ndarray], intorder: Optional[int] = None) -> float:
        """``||u_h - exact||_{L2}`` with a quadrature of degree ``intorder`` (default ``2 * order + 4``).

        ``exact(x)`` follows the callable convention: ``(d, ...) -> (...)`` or ``(d, ...) -> (d, ...)``.
        """
        order = 2 if self.basis.elem.maxdeg >= 2 else 1
        basis = skfem.Basis(self.fem.sk, self.basis.elem, intorder=intorder or 2 * order + 4)
        uh = basis.interpolate(self.dofs)
        x = np.asarray(basis.global_coordinates())
        ref = np.asarray(exact(x), dtype=np.float64)
        diff = (np.asarray(uh) - ref) ** 2
        if self.components > 1:
            diff = diff.sum(axis=0)
        return float(np.sqrt(np.sum(diff * basis.dx)))
