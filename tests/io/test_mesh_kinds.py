"""Mesh kinds users bring: near-zero z, surfaces in 3D, second-order cells, partitioned .msh, gmsh's t1.geo."""
from __future__ import annotations

from pathlib import Path

import meshio
import numpy as np
import pytest

from graphops.errors import MeshError
from graphops.gmsh_model import gmsh_session
from graphops.io import read, read_mesh
from graphops.mesh import PLANAR_RTOL, planar_points

ROOT = Path(__file__).resolve().parents[2]
# gmsh's tutorial t1.geo as shared beside the project (the shared README), or the project's copy of it
T1 = next(p for p in (ROOT / ".." / "shared" / "meshes" / "t1.geo", ROOT / "meshes" / "t1.geo") if p.exists())


def _square_triangles(z):
    pts = np.array([[0.0, 0, 0], [2, 0, 0], [2, 2, 0], [0, 2, 0]])
    pts[:, 2] = z
    return pts, [("triangle", np.array([[0, 1, 2], [0, 2, 3]]))]


@pytest.mark.parametrize("ext", [".vtu", ".msh"])
def test_numerically_zero_z_reads_as_2d(tmp_path, ext):
    points, cells = _square_triangles([1e-18, -3e-18, 2e-17, 0.0])
    path = tmp_path / f"plate{ext}"
    meshio.write(path, meshio.Mesh(points, cells), **({"file_format": "gmsh22"} if ext == ".msh" else {}))
    mesh = read_mesh(path)
    assert mesh.geometric_dim == 2 and mesh.kind == "2D mesh"
    np.testing.assert_array_equal(mesh.points, points[:, :2])


def test_tilted_surface_stays_3d_and_is_named_so(tmp_path):
    points, cells = _square_triangles([0.0, 0.0, 1e-3, 1e-3])  # 1e-3 of a 2-wide plate: really tilted
    path = tmp_path / "tilted.vtu"
    meshio.write(path, meshio.Mesh(points, cells))
    mesh = read_mesh(path)
    assert mesh.geometric_dim == 3 and mesh.kind == "surface mesh in 3D"


def test_planar_tolerance_is_relative_to_the_extent():
    big = np.array([[0.0, 0, 1e-8], [1e4, 0, 0], [0, 1e4, 0]])  # 1e-8 on a 1e4 part: zero
    assert planar_points(big, 2).shape == (3, 2)
    small = np.array([[0.0, 0, 1e-8], [1e-6, 0, 0], [0, 1e-6, 0]])  # 1e-8 on a 1e-6 part: not zero
    assert planar_points(small, 2).shape == (3, 3)
    edge = np.array([[0.0, 0, PLANAR_RTOL * 2], [1, 0, 0], [0, 1, 0]])
    assert planar_points(edge, 2).shape == (3, 3)
    assert planar_points(np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 1e-20], [0, 0, 1]]), 3).shape == (4, 3)


def test_second_order_cells_keep_their_corners(tmp_path):
    """triangle6/quad9/tetra10 read as their linear corner cells (documented choice), mid nodes dropped."""
    with gmsh_session() as gmsh:
        for name, build, dim, expect in (
            ("tri6", lambda: gmsh.model.occ.addRectangle(0, 0, 0, 1, 1), 2, "triangle"),
            ("quad9", lambda: gmsh.model.occ.addRectangle(0, 0, 0, 1, 1), 2, "quad"),
            ("tet10", lambda: gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1), 3, "tetra"),
        ):
            gmsh.clear()
            build()
            gmsh.model.occ.synchronize()
            gmsh.option.setNumber("Mesh.MeshSizeMax", 0.5)
            gmsh.option.setNumber("Mesh.RecombineAll", int(name == "quad9"))
            gmsh.model.mesh.generate(dim)
            linear_nodes = len(gmsh.model.mesh.getNodes()[0])
            gmsh.model.mesh.setOrder(2)
            gmsh.write(str(tmp_path / f"{name}.msh"))
            gmsh.option.setNumber("Mesh.RecombineAll", 0)
            gmsh.clear()
            for reader in ("gmsh", "meshio"):
                path = tmp_path / f"{name}.msh"
                if reader == "meshio":
                    raw = meshio.read(path)
                    assert any(c.type.endswith(("6", "9", "10")) for c in raw.cells)
                    path = tmp_path / f"{name}.vtu"
                    meshio.write(path, meshio.Mesh(raw.points, raw.cells))
                mesh = read_mesh(path)
                assert set(mesh.volume_cells()) == {expect}
                assert mesh.num_points == linear_nodes, (name, reader)


def _partitioned(tmp_path, version, ghosts):
    with gmsh_session() as gmsh:
        gmsh.clear()
        gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(3, [1], name="solid")
        gmsh.model.addPhysicalGroup(2, [1, 2], name="walls")
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.3)
        gmsh.model.mesh.generate(3)
        plain = tmp_path / "plain.msh"
        gmsh.write(str(plain))
        gmsh.option.setNumber("Mesh.PartitionCreateGhostCells", int(ghosts))
        gmsh.model.mesh.partition(3)
        gmsh.option.setNumber("Mesh.MshFileVersion", version)
        path = tmp_path / f"partitioned_{version}_{int(ghosts)}.msh"
        gmsh.write(str(path))
        gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
        gmsh.option.setNumber("Mesh.PartitionCreateGhostCells", 0)
        gmsh.clear()
    return plain, path


@pytest.mark.parametrize("version,ghosts", [(2.2, False), (4.1, False), (4.1, True), (2.2, True)])
def test_partitioned_msh_reads_as_the_whole_mesh(tmp_path, version, ghosts):
    plain, path = _partitioned(tmp_path, version, ghosts)
    whole, parts = read_mesh(plain), read_mesh(path)
    assert parts.num_points == whole.num_points
    for ctype in ("tetra", "triangle"):  # ghost cells are not counted twice
        assert len(parts.cells[ctype]) == len(whole.cells[ctype])
        key = lambda c: np.sort(np.sort(parts.points[c].round(9).reshape(len(c), -1), axis=1), axis=0)  # noqa: E731
        np.testing.assert_array_equal(key(parts.cells[ctype]), np.sort(np.sort(whole.points[whole.cells[ctype]].round(9).reshape(len(whole.cells[ctype]), -1), axis=1), axis=0))
    assert set(parts.groups) == {"solid", "walls"}


def test_partition_refusal_falls_back_to_meshio(tmp_path, monkeypatch):
    plain, path = _partitioned(tmp_path, 2.2, False)

    def refuse(p, dim=None):
        raise MeshError("gmsh cannot read this file (All elements are not partitioned)", p)

    monkeypatch.setattr(read, "read_gmsh_file", refuse)
    mesh = read_mesh(path)
    whole = read_mesh(plain)
    assert len(mesh.cells["tetra"]) == len(whole.cells["tetra"]) and mesh.num_points == whole.num_points
    monkeypatch.setattr(read, "_read_with_meshio", lambda p: (_ for _ in ()).throw(MeshError("boom", p)))
    with pytest.raises(MeshError, match=r"not partitioned\); meshio could not read it either \(boom\)"):
        read_mesh(path)


def test_t1_geo_from_gmsh_tutorials():
    mesh = read_mesh(T1)
    assert mesh.kind == "2D mesh" and mesh.num_cells() > 0
    lo, hi = mesh.bounding_box()
    np.testing.assert_allclose(hi - lo, [0.1, 0.3])
    assert any(g.dim == 2 for g in mesh.groups.values()) and any(g.dim == 1 for g in mesh.groups.values())


# An old-style partitioned MSH 2.0 file numbering its nodes and elements from 0, as gmsh's own
# benchmarks/misc/partitions.msh: gmsh's partition conversion refused it ("All elements are not
# partitioned"), and gmsh and meshio both put node 0 in the wrong place once that was off.
OLD_PARTITIONED = """$MeshFormat
2 0 8
$EndMeshFormat
$Nodes
5
0 1 1 0
1 0 0 0
2 1 0 0
3 0 1 0
4 0.5 0.5 0
$EndNodes
$Elements
8
0 1 3 1 1 1 1 2
1 1 3 1 2 1 2 0
2 1 3 1 3 2 0 3
3 1 3 1 4 2 3 1
4 2 3 2 5 1 1 2 4
5 2 3 2 5 1 2 0 4
6 2 3 2 5 2 0 3 4
7 2 3 2 5 2 3 1 4
$EndElements
$NodeData
1
"x"
1
0.0
3
0
1
5
0 1.0
1 0.0
2 1.0
3 0.0
4 0.5
$EndNodeData
"""


def test_old_style_partitioned_msh2_numbered_from_zero(tmp_path):
    path = tmp_path / "partitions.msh"
    path.write_text(OLD_PARTITIONED)
    mesh = read_mesh(path)
    assert mesh.kind == "2D mesh" and mesh.num_points == 5 and mesh.source == str(path)
    assert len(mesh.cells["triangle"]) == 4 and len(mesh.cells["line"]) == 4
    p = mesh.points[mesh.cells["triangle"]]
    a, b = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    area = 0.5 * (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
    assert np.abs(area).sum() == pytest.approx(1.0) and area.min() > 0  # each triangle in its place
    np.testing.assert_array_equal(mesh.point_data["x"], mesh.points[:, 0])  # node data follows its nodes
