"""Quadrilateral, hexahedral and mixed meshes in the reference FEM solvers, against manufactured solutions.

The oracle is the exact solution of each problem, not another solver: the
L2 error must fall at the rate finite-element theory gives (h^2 for Q1/P1,
h^3 for Q2), and linear fields (patch tests) must be reproduced exactly.
"""
from __future__ import annotations

import numpy as np
import pytest

from graphops.gmsh_model import gmsh_session, mesh_from_gmsh_model
from graphops.solvers import elasticity_fem, poisson_fem, solve_poisson
from graphops.solvers.fem import fem_mesh

PI = np.pi


def _square(n: int, kind: str):
    """Unit square: structured ``n x n`` quads ("quad"), unstructured quads ("free-quad"),
    or half triangles half quads ("mixed")."""
    with gmsh_session() as gmsh:
        gmsh.clear()
        occ = gmsh.model.occ
        if kind == "mixed":
            occ.addRectangle(0, 0, 0, 0.5, 1)
            occ.addRectangle(0.5, 0, 0, 0.5, 1)
            occ.fragment([(2, 1)], [(2, 2)])
        else:
            occ.addRectangle(0, 0, 0, 1, 1)
        occ.synchronize()
        gmsh.model.addPhysicalGroup(1, [c for _, c in gmsh.model.getEntities(1)], name="walls")
        _divide_curves(gmsh, n)
        if kind == "quad":
            gmsh.model.mesh.setTransfiniteSurface(1)
        for _, s in gmsh.model.getEntities(2):
            if kind != "mixed" or s == 2:
                gmsh.model.mesh.setRecombine(2, s)
        gmsh.model.mesh.generate(2)
        mesh = mesh_from_gmsh_model()
        gmsh.clear()
    return mesh


def _divide_curves(gmsh, n: int) -> None:
    """Mesh every curve with ``n`` segments per unit length (the mesh size then follows ``1 / n``)."""
    for _, c in gmsh.model.getEntities(1):
        length = gmsh.model.occ.getMass(1, c)
        gmsh.model.mesh.setTransfiniteCurve(c, max(int(round(length * n)), 1) + 1)


def _box(n: int, kind: str):
    """Unit cube: structured hexahedra ("hex") or hexahedra and wedges ("hex-wedge", extruded mixed square)."""
    with gmsh_session() as gmsh:
        gmsh.clear()
        occ = gmsh.model.occ
        if kind == "hex":
            occ.addBox(0, 0, 0, 1, 1, 1)
            occ.synchronize()
            for _, c in gmsh.model.getEntities(1):
                gmsh.model.mesh.setTransfiniteCurve(c, n + 1)
            for _, s in gmsh.model.getEntities(2):
                gmsh.model.mesh.setTransfiniteSurface(s)
                gmsh.model.mesh.setRecombine(2, s)
            gmsh.model.mesh.setTransfiniteVolume(1)
        else:
            occ.addRectangle(0, 0, 0, 0.5, 1)
            occ.addRectangle(0.5, 0, 0, 0.5, 1)
            occ.fragment([(2, 1)], [(2, 2)])
            occ.synchronize()
            _divide_curves(gmsh, n)
            gmsh.model.mesh.setRecombine(2, 2)
            gmsh.model.mesh.generate(2)
            gmsh.model.mesh.clear()
            occ.extrude([(2, 1), (2, 2)], 0, 0, 1, numElements=[n], recombine=True)
            occ.synchronize()
            _divide_curves(gmsh, n)
            for _, s in gmsh.model.getEntities(2):
                if s == 2:
                    gmsh.model.mesh.setRecombine(2, s)
        gmsh.model.addPhysicalGroup(2, [s for _, s in gmsh.model.getBoundary(gmsh.model.getEntities(3), oriented=False)], name="walls")
        gmsh.model.mesh.generate(3)
        mesh = mesh_from_gmsh_model()
        gmsh.clear()
    return mesh


def _u2(x):
    return np.sin(PI * x[0]) * np.sin(PI * x[1])


def _u3(x):
    return np.sin(PI * x[0]) * np.sin(PI * x[1]) * np.sin(PI * x[2])


def _rate(errors, sizes):
    return np.polyfit(np.log(sizes), np.log(errors), 1)[0]


@pytest.mark.parametrize("kind,order,expected", [("quad", 1, 2.0), ("quad", 2, 3.0), ("free-quad", 1, 2.0), ("mixed", 1, 2.0)])
def test_poisson_2d_converges_at_the_theoretical_rate(kind, order, expected):
    ns = [4, 8, 16]
    errors = []
    for n in ns:
        mesh = _square(n, kind)
        if kind in ("quad", "free-quad"):
            assert set(mesh.volume_cells()) == {"quad"}
        sol = poisson_fem(mesh, f=lambda x: 2 * PI**2 * _u2(x), g=_u2, dirichlet="walls", order=order)
        errors.append(sol.l2_error(_u2))
    assert _rate(errors, 1.0 / np.array(ns)) == pytest.approx(expected, abs=0.25), errors


@pytest.mark.parametrize("kind,order,expected", [("hex", 1, 2.0), ("hex", 2, 3.0), ("hex-wedge", 1, 2.0)])
def test_poisson_3d_converges_at_the_theoretical_rate(kind, order, expected):
    ns = [2, 4, 8] if order == 1 else [2, 3, 4]
    errors = []
    for n in ns:
        mesh = _box(n, kind)
        assert "hexahedron" in mesh.volume_cells()
        sol = poisson_fem(mesh, f=lambda x: 3 * PI**2 * _u3(x), g=_u3, dirichlet="walls", order=order)
        errors.append(sol.l2_error(_u3))
    assert _rate(errors, 1.0 / np.array(ns)) == pytest.approx(expected, abs=0.3), errors


@pytest.mark.parametrize("builder", [lambda: _square(5, "free-quad"), lambda: _square(5, "mixed"),
                                     lambda: _box(3, "hex"), lambda: _box(3, "hex-wedge")])
def test_linear_fields_are_reproduced_exactly(builder):
    """Patch test: a conforming split (or native Q1) reproduces any linear solution to round-off."""
    mesh = builder()
    d = mesh.geometric_dim
    coef = np.array([0.7, -1.3, 0.4])[:d]
    linear = lambda x: 2.0 + np.tensordot(coef, x[:d], axes=1)  # noqa: E731
    u = solve_poisson(mesh, f=0.0, g=linear)
    assert u.shape == (mesh.num_points,)
    np.testing.assert_allclose(u, linear(mesh.points.T), atol=1e-10)
    # the same through nodal boundary values (extended to the split mesh's added nodes)
    u = solve_poisson(mesh, f=np.zeros(mesh.num_points), g=linear(mesh.points.T))
    np.testing.assert_allclose(u, linear(mesh.points.T), atol=1e-10)
    # linear elasticity: a linear displacement field is exact with no body force
    A = np.arange(1.0, 1.0 + d * d).reshape(d, d) / 10
    sol = elasticity_fem(mesh, E=2.0, nu=0.3, fixed="all", fixed_value=lambda x: np.tensordot(A, x, axes=1))
    np.testing.assert_allclose(sol.nodal(), mesh.points @ A.T, atol=1e-10)


def test_split_mesh_keeps_the_volume_and_neumann_groups():
    mesh = _box(3, "hex-wedge")
    fm = fem_mesh(mesh)
    assert fm.split is not None and fm.cell_type == "tetra"
    volume = fm.sk.p[:, fm.sk.t]
    a, b, c = (volume[:, i] - volume[:, 0] for i in (1, 2, 3))
    assert np.abs(np.einsum("ij,ij->j", a, np.cross(b, c, axis=0))).sum() / 6 == pytest.approx(1.0, rel=1e-12)
    # pure Neumann with flux from u = x^2 + y^2 - 2 z^2 (harmonic): the flux on a group of quads and triangles
    exact = lambda x: x[0] ** 2 + x[1] ** 2 - 2 * x[2] ** 2  # noqa: E731
    grad_dot_n = lambda x, n: 2 * x[0] * n[0] + 2 * x[1] * n[1] - 4 * x[2] * n[2]  # noqa: E731
    sol = poisson_fem(mesh, f=0.0, dirichlet=None, neumann="walls", flux=grad_dot_n, order=2)
    u = sol.nodal()
    ref = exact(mesh.points.T)
    np.testing.assert_allclose(u - u.mean(), ref - ref.mean(), atol=5e-2)
    assert abs(sol.source_shift) < 1e-10


def test_hexahedron_next_to_pyramids_is_split_conformingly():
    """A unit hex beside a unit cube cut into six pyramids at its centre: they share a quad face."""
    from graphops.mesh import Mesh

    corners = np.array([[x, y, z] for z in (0, 1) for y in (0, 1) for x in (0, 1, 2)], dtype=float)
    idx = lambda x, y, z: x + 3 * y + 6 * z  # noqa: E731
    hexa = [idx(0, 0, 0), idx(1, 0, 0), idx(1, 1, 0), idx(0, 1, 0), idx(0, 0, 1), idx(1, 0, 1), idx(1, 1, 1), idx(0, 1, 1)]
    points = np.vstack([corners, [[1.5, 0.5, 0.5]]])
    apex = len(points) - 1
    faces = [  # the six faces of the cube [1, 2] x [0, 1]^2, each a pyramid base
        [idx(1, 0, 0), idx(1, 1, 0), idx(1, 1, 1), idx(1, 0, 1)], [idx(2, 0, 0), idx(2, 0, 1), idx(2, 1, 1), idx(2, 1, 0)],
        [idx(1, 0, 0), idx(1, 0, 1), idx(2, 0, 1), idx(2, 0, 0)], [idx(1, 1, 0), idx(2, 1, 0), idx(2, 1, 1), idx(1, 1, 1)],
        [idx(1, 0, 0), idx(2, 0, 0), idx(2, 1, 0), idx(1, 1, 0)], [idx(1, 0, 1), idx(1, 1, 1), idx(2, 1, 1), idx(2, 0, 1)],
    ]
    mesh = Mesh(points, {"hexahedron": [hexa], "pyramid": [f + [apex] for f in faces]})
    fm = fem_mesh(mesh)
    p = fm.sk.p[:, fm.sk.t]
    a, b, c = (p[:, i] - p[:, 0] for i in (1, 2, 3))
    assert np.abs(np.einsum("ij,ij->j", a, np.cross(b, c, axis=0))).sum() / 6 == pytest.approx(2.0, rel=1e-12)
    assert len(fm.sk.boundary_facets()) == 10 * 4  # 10 outer quad faces, 4 triangles each: the shared face is interior
    linear = lambda x: 1.0 + x[0] - 2 * x[1] + 3 * x[2]  # noqa: E731
    np.testing.assert_allclose(solve_poisson(mesh, g=linear), linear(mesh.points.T), atol=1e-12)
