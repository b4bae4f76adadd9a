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

from skfem.io.meshio import INV_HEX_MAPPING

from ..boundary import row_keys
from ..errors import ConfigError, MeshError
from ..mesh import Mesh
from .split import SimplexSplit, split_to_simplices

Field = Union[float, Sequence[float], np.ndarray, Callable[..., np.ndarray]]
Selector = Union[None, str, Sequence[str], Callable[[np.ndarray], np.ndarray]]

_ELEMENTS = {
    ("triangle", 1): skfem.ElementTriP1,
    ("triangle", 2): skfem.ElementTriP2,
    ("tetra", 1): skfem.ElementTetP1,
    ("tetra", 2): skfem.ElementTetP2,
    ("quad", 1): skfem.ElementQuad1,
    ("quad", 2): skfem.ElementQuad2,
    ("hexahedron", 1): skfem.ElementHex1,
    ("hexahedron", 2): skfem.ElementHex2,
}

#: Volume cell types scikit-fem takes as they are; other and mixed meshes are split (:mod:`.split`).
_NATIVE = {"triangle": skfem.MeshTri, "quad": skfem.MeshQuad, "tetra": skfem.MeshTet, "hexahedron": skfem.MeshHex}

#: Facet type of each native cell type (what physical groups of the boundary hold).
_FACET_TYPE = {"triangle": "line", "quad": "line", "tetra": "triangle", "hexahedron": "quad"}


@dataclass
class FemMesh:
    """A graphops mesh and its scikit-fem twin (same node numbering for the mesh's nodes).

    Attributes
    ----------
    mesh : Mesh
    sk : skfem.Mesh
        ``MeshTri``, ``MeshQuad``, ``MeshTet`` or ``MeshHex``.
    cell_type : str
        ``"triangle"``, ``"quad"``, ``"tetra"`` or ``"hexahedron"``.
    split : SimplexSplit or None
        How a mixed (or wedge/pyramid) mesh was split into simplices; its added
        nodes come after the mesh's ``N`` nodes in ``sk``.
    """

    mesh: Mesh
    sk: skfem.Mesh
    cell_type: str
    split: Optional[SimplexSplit] = None

    @property
    def dim(self) -> int:
        return int(self.sk.dim())

    @property
    def num_nodes(self) -> int:
        """Number of nodes ``N`` of the graphops mesh (``sk`` may have more, see ``split``)."""
        return self.mesh.num_points

    def extend(self, nodal: np.ndarray) -> np.ndarray:
        """Nodal values ``(N, ...)`` on the mesh's nodes -> ``(sk.nvertices, ...)`` (added nodes interpolated)."""
        if self.split is None:
            return nodal
        flat = nodal.reshape(len(nodal), -1)
        return np.asarray(self.split.prolongation @ flat).reshape((self.sk.nvertices,) + nodal.shape[1:])


def fem_mesh(mesh: Mesh) -> FemMesh:
    """Wrap a mesh for scikit-fem.

    Pure triangle, quadrilateral, tetrahedron and hexahedron meshes are used as
    they are; mixed meshes and meshes of wedges or pyramids are split into a
    conforming simplex mesh (:func:`graphops.solvers.split.split_to_simplices`).

    Raises
    ------
    MeshError
        For meshes without volume cells (surface meshes in 3D, curves, point
        clouds) or 2D cells with points that leave the plane.
    """
    mesh.validate(require_cells=True)
    if mesh.dim < mesh.geometric_dim and not (mesh.dim == 2 and np.ptp(mesh.points[:, 2]) == 0):
        raise MeshError(f"the finite-element solvers need a 2D mesh or a 3D volume mesh, this is a {mesh.kind}", mesh.source)
    volume = mesh.volume_cells()
    in_cell = np.zeros(mesh.num_points, dtype=bool)
    for cells in volume.values():
        in_cell[cells.ravel()] = True
    if not in_cell.all():
        stray = np.flatnonzero(~in_cell)
        raise MeshError(
            f"{len(stray)} of {mesh.num_points} nodes (e.g. node {int(stray[0])}) belong to no {mesh.dim}D cell, so the "
            "finite-element solvers have no value for them; remove them from the mesh first",
            mesh.source,
        )
    points = mesh.points[:, :2] if mesh.dim == 2 else mesh.points
    if len(volume) == 1 and next(iter(volume)) in _NATIVE:
        cell_type, cells = next(iter(volume.items()))
        t = cells.T[INV_HEX_MAPPING[:8]] if cell_type == "hexahedron" else cells.T
        sk = _NATIVE[cell_type](np.ascontiguousarray(points.T), np.ascontiguousarray(t))
        return FemMesh(mesh, sk, cell_type)
    split = split_to_simplices(points, volume)
    sk = _NATIVE[split.cell_type](np.ascontiguousarray(split.points.T), np.ascontiguousarray(split.cells.T))
    return FemMesh(mesh, sk, split.cell_type, split)


def element(fm: FemMesh, order: int, vector: bool = False) -> skfem.Element:
    """Lagrange element of ``order`` 1 or 2 on the mesh's cells (vector-valued when asked)."""
    if order not in (1, 2):
        raise ConfigError(f"finite-element order must be 1 or 2, got {order!r}")
    elem = _ELEMENTS[(fm.cell_type, order)]()
    return skfem.ElementVector(elem) if vector else elem


def p1_element(fm: FemMesh) -> skfem.Element:
    """The scalar lowest-order element of the mesh's cell type (P1, or Q1 on quadrilaterals and hexahedra)."""
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
    picked = []
    for name in names:
        if not isinstance(name, str):
            raise ConfigError(f"a {role} boundary selector must be 'all', group names or a predicate, got {name!r}")
        group = fm.mesh.group(name)
        facet_blocks = {t: c for t, c in group.cells.items() if t in ("line", "triangle", "quad")}
        if group.dim != fm.dim - 1 or not facet_blocks:
            kind = "lines" if fm.dim == 2 else "triangles or quadrilaterals"
            raise MeshError(f"physical group {name!r} is not a set of boundary {kind} (dim {group.dim})", fm.mesh.source)
        try:
            conn = np.concatenate([_sk_facets(fm, t, c) for t, c in facet_blocks.items()])
        except ValueError:
            raise MeshError(f"physical group {name!r} has facets that are not facets of the mesh", fm.mesh.source) from None
        conn = np.sort(conn, axis=1)
        gkeys = row_keys(conn, fm.sk.nvertices)
        pos = np.searchsorted(keys, gkeys)
        pos = np.minimum(pos, len(keys) - 1)
        if not np.all(keys[pos] == gkeys):
            raise MeshError(f"physical group {name!r} has facets that are not facets of the mesh", fm.mesh.source)
        picked.append(order[pos])
    facets = np.unique(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)
    return facets.astype(np.int64)


def _sk_facets(fm: FemMesh, facet_type: str, conn: np.ndarray) -> np.ndarray:
    """A block of a group's facets as facets of ``fm.sk`` (split into triangles on a split mesh)."""
    if fm.split is not None:
        return fm.split.split_facets(facet_type, conn, fm.num_nodes)
    if facet_type != _FACET_TYPE[fm.cell_type]:
        raise ValueError(f"{facet_type} facets on a {fm.cell_type} mesh")
    return conn


def facet_nodes(fm: FemMesh, facets: np.ndarray) -> np.ndarray:
    """Boolean mask ``(N,)`` of the mesh nodes on the given facets (added split nodes left out)."""
    mask = np.zeros(fm.sk.nvertices, dtype=bool)
    mask[fm.sk.facets[:, facets].ravel()] = True
    return mask[: fm.num_nodes]


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


def _nodal(value, fm: FemMesh, components: int, name: str) -> Optional[np.ndarray]:
    """A nodal array ``(N,)`` / ``(N, c)`` checked for shape and extended to ``fm.sk``'s nodes, or None if ``value`` is not one."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0 or (components > 1 and arr.shape == (components,)):
        return None
    num_nodes = fm.num_nodes
    expected = (num_nodes,) if components == 1 else (num_nodes, components)
    if arr.shape != expected:
        const = "a number" if components == 1 else f"a number or a vector of {components} numbers"
        raise ConfigError(f"{name} must be {const}, a callable or a nodal array of shape {expected}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{name} has NaN or infinite values")
    return fm.extend(arr)


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
    nodal = _nodal(value, fm, components, name)
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


def _dof_entities(fm: FemMesh, basis) -> list:
    """``(dofs (c, K), corners (k, K))`` per kind of dof of a Lagrange ``basis``: vertices, edges, facets, cells.

    Every dof of the Lagrange elements used here (P1/P2, Q1/Q2) sits at a vertex
    or at the centre of an edge, face or cell, and the centre is the mean of
    the entity's corners (also on a curved bilinear/trilinear cell).
    """
    sk = fm.sk
    out = [(basis.nodal_dofs, np.arange(sk.nvertices)[None])]
    if basis.edge_dofs.size and fm.dim == 3:
        out.append((basis.edge_dofs, sk.edges))
    if basis.facet_dofs.size:
        out.append((basis.facet_dofs, sk.facets))
    if basis.interior_dofs.size:
        out.append((basis.interior_dofs, sk.t))
    return out


def dof_values(basis, value: Field, fm: FemMesh, components: int = 1, name: str = "field") -> np.ndarray:
    """Interpolate a field onto every degree of freedom of a Lagrange ``basis``.

    Vertex dofs take the value at the node; the edge, face and cell dofs of
    P2/Q2 take the value at the centre of their entity (callables) or the mean
    of the nodal values at its corners (nodal arrays: the P1/Q1 interpolant
    there).

    Returns
    -------
    ndarray, shape (basis.N,)
    """
    sk = fm.sk
    x = np.zeros(basis.N)
    nodal = None if callable(value) else _nodal(value, fm, components, name)
    if not callable(value) and nodal is None:
        const = np.asarray(value, dtype=np.float64)
        if const.ndim and const.shape != (components,):
            raise ConfigError(f"{name} must be a number or a vector of {components} numbers, got shape {const.shape}")
        const = np.broadcast_to(const, (components,))
    for dofs, corners in _dof_entities(fm, basis):
        count = corners.shape[1]
        if callable(value):
            values = np.asarray(value(sk.p[:, corners].mean(axis=1)), dtype=np.float64)
            values = np.broadcast_to(values, (count,) if components == 1 else (components, count)).reshape(components, count)
        elif nodal is None:
            values = np.broadcast_to(const[:, None], (components, count))
        else:
            values = nodal.reshape(sk.nvertices, components)[corners].mean(axis=0).T
        for c in range(components):
            x[dofs[c]] = values[c]
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
        values = self.dofs[self.basis.nodal_dofs][:, : self.fem.num_nodes]  # (c, N): the mesh's own nodes
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
