"""Round trips through every writer, gmsh formats, higher-order cells, and bad files."""
import subprocess
import sys

import meshio
import numpy as np
import pytest

from graphops.errors import MeshError
from graphops.io import read_mesh, write_mesh


@pytest.mark.parametrize("ext", [".vtu", ".xdmf", ".msh", ".vtk"])
@pytest.mark.parametrize("fixture", ["holes_mesh", "cube_mesh", "mixed_mesh", "hex_mesh", "wedge_mesh"])
def test_round_trip_every_writer(tmp_path, ext, fixture, request):
    mesh = request.getfixturevalue(fixture)
    u = np.sin(mesh.points).sum(1)
    path = write_mesh(tmp_path / f"out{ext}", mesh, {"prediction": u})
    back = read_mesh(path)
    assert back.num_points == mesh.num_points
    np.testing.assert_allclose(back.points, mesh.points)
    for ctype, conn in mesh.volume_cells().items():
        np.testing.assert_array_equal(back.cells[ctype], conn)
    np.testing.assert_allclose(np.ravel(back.point_data["prediction"]), u)
    assert not list(tmp_path.glob(".*tmp*")), "temporary files left behind"


def test_geo_physical_groups(t1_geo):
    mesh = read_mesh(t1_geo)
    assert mesh.dim == 2 and mesh.geometric_dim == 2
    assert set(mesh.groups) == {"5", "My surface"}
    curve = mesh.group(5)
    assert curve.dim == 1 and curve.tag == 5 and set(curve.cells) == {"line"}
    # the physical curve covers 3 sides; the boundary is still all 4 sides
    from graphops.boundary import boundary_nodes

    mask = boundary_nodes(mesh)
    p = mesh.points
    on_rect = np.isclose(p[:, 0], 0) | np.isclose(p[:, 0], 0.1) | np.isclose(p[:, 1], 0) | np.isclose(p[:, 1], 0.3)
    np.testing.assert_array_equal(mask, on_rect)
    top = np.isclose(p[:, 1], 0.3) & (p[:, 0] > 1e-9) & (p[:, 0] < 0.1 - 1e-9)
    assert top.any() and not np.isin(np.flatnonzero(top), curve.nodes()).any()


@pytest.mark.parametrize("version,binary", [("2.2", 0), ("4.1", 0), ("4.1", 1), ("2.2", 1)])
def test_msh_versions(tmp_path, t1_geo, version, binary):
    from graphops.gmsh_model import gmsh_session

    path = tmp_path / f"t1_{version}_{binary}.msh"
    with gmsh_session() as gmsh:
        gmsh.clear()
        gmsh.open(str(t1_geo))
        gmsh.model.mesh.generate(2)
        gmsh.option.setNumber("Mesh.MshFileVersion", float(version))
        gmsh.option.setNumber("Mesh.Binary", binary)
        gmsh.write(str(path))
        gmsh.option.setNumber("Mesh.Binary", 0)
        gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
        gmsh.clear()
    mesh = read_mesh(path)
    assert mesh.num_cells("triangle") > 100 and mesh.group("My surface").dim == 2


def test_higher_order_reduced_to_corners(tmp_path, holes_mesh):
    from graphops.gmsh_model import gmsh_session

    geo = tmp_path / "quadratic.geo"
    geo.write_text('SetFactory("OpenCASCADE");\nRectangle(1) = {0, 0, 0, 1, 1};\nMesh.MeshSizeMax = 0.2;\nMesh.ElementOrder = 2;\n')
    mesh = read_mesh(geo)
    assert set(mesh.volume_cells()) == {"triangle"}
    # mid-edge nodes are gone: every node is a triangle corner
    assert np.unique(mesh.cells["triangle"]).size == mesh.num_points
    # meshio path too: a tetra10 mesh written as vtu
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    mids = np.array([(pts[a] + pts[b]) / 2 for a, b in [(0, 1), (1, 2), (0, 2), (0, 3), (1, 3), (2, 3)]])
    raw = meshio.Mesh(np.vstack([pts, mids]), [("tetra10", np.arange(10)[None])], point_data={"t": np.arange(10.0)})
    raw.write(tmp_path / "t10.vtu")
    back = read_mesh(tmp_path / "t10.vtu")
    assert back.cells["tetra"].tolist() == [[0, 1, 2, 3]] and back.num_points == 4
    np.testing.assert_array_equal(back.point_data["t"], [0, 1, 2, 3])


def test_abaqus_inp_with_sets(tmp_path):
    inp = tmp_path / "part.inp"
    inp.write_text(
        "*NODE\n1, 0.0, 0.0\n2, 1.0, 0.0\n3, 1.0, 1.0\n4, 0.0, 1.0\n"
        "*ELEMENT, TYPE=CPS3, ELSET=plate\n1, 1, 2, 3\n2, 1, 3, 4\n"
    )
    mesh = read_mesh(inp)
    assert mesh.num_cells("triangle") == 2 and mesh.geometric_dim == 2
    assert "plate" in mesh.groups


def test_bad_inputs(tmp_path):
    with pytest.raises(MeshError, match="file not found"):
        read_mesh(tmp_path / "missing.vtu")
    (tmp_path / "empty.vtu").write_bytes(b"")
    with pytest.raises(MeshError, match="empty.vtu: file is empty"):
        read_mesh(tmp_path / "empty.vtu")
    (tmp_path / "mesh.unknownext").write_text("x")
    with pytest.raises(MeshError, match="unknown mesh format '.unknownext'"):
        read_mesh(tmp_path / "mesh.unknownext")
    (tmp_path / "bad.vtu").write_text("<VTKFile> not really")
    with pytest.raises(MeshError, match="bad.vtu: cannot read this file"):
        read_mesh(tmp_path / "bad.vtu")
    (tmp_path / "bad.msh").write_text("$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Nodes\n1 2\n")
    with pytest.raises(MeshError, match="bad.msh: gmsh cannot read"):
        read_mesh(tmp_path / "bad.msh")
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, np.nan, 0]], float)
    meshio.Mesh(pts, [("triangle", [[0, 1, 2]])]).write(tmp_path / "nan.vtu")
    with pytest.raises(MeshError, match="nan.vtu: 1 node\\(s\\) have NaN"):
        read_mesh(tmp_path / "nan.vtu")
    meshio.Mesh(np.random.rand(3, 3), [("line", [[0, 1], [1, 2]])]).write(tmp_path / "lines.vtu")
    from graphops.graph import mesh_to_graph

    with pytest.raises(MeshError, match="lines.vtu: the mesh has no 2D or 3D volume cells"):
        mesh_to_graph(read_mesh(tmp_path / "lines.vtu"))
    (tmp_path / "empty.geo").write_text("// nothing here\n")
    with pytest.raises(MeshError, match="empty.geo"):
        read_mesh(tmp_path / "empty.geo")


def test_write_errors(tmp_path, square_mesh):
    with pytest.raises(MeshError, match="cannot write format '.foo'"):
        write_mesh(tmp_path / "a.foo", square_mesh)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        from graphops.errors import GraphopsError

        if not __import__("os").access(ro, __import__("os").W_OK):
            with pytest.raises(GraphopsError, match="not writable"):
                write_mesh(ro / "a.vtu", square_mesh)
    finally:
        ro.chmod(0o700)


def test_gmsh_session_left_closed():
    """Reading a .geo must not leave gmsh initialised (one session per process)."""
    code = (
        "import gmsh, graphops.io as io, pathlib;"
        "m = io.read_mesh(pathlib.Path('meshes/t1.geo'));"
        "print(gmsh.isInitialized(), m.num_points)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=__import__("pathlib").Path(__file__).parents[2])
    assert out.stdout.split()[0] == "0" and out.stderr == ""
