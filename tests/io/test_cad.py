"""CAD parts (STEP, IGES, BREP) meshed through gmsh's OpenCASCADE kernel, in a child process."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from graphops.errors import MeshError
from graphops.gmsh_model import gmsh_session
from graphops.io import read_mesh
from graphops.io.cad import DEFAULT_SIZE_FRACTION


@pytest.fixture(scope="module")
def cad_dir(tmp_path_factory):
    """A 40 x 20 x 10 mm block far from the origin (STEP, BREP, IGES) and a plate with a hole (STEP, faces only)."""
    folder = tmp_path_factory.mktemp("cad")
    with gmsh_session() as gmsh:
        gmsh.clear()
        gmsh.model.add("block")
        gmsh.model.occ.addBox(100, 200, 300, 40, 20, 10)
        gmsh.model.occ.synchronize()
        for ext in ("step", "brep", "iges"):
            gmsh.write(str(folder / f"block.{ext}"))
        gmsh.clear()
        gmsh.model.add("plate")
        plate = gmsh.model.occ.addRectangle(0, 0, 0, 2, 1)
        hole = gmsh.model.occ.addDisk(1, 0.5, 0, 0.2, 0.2)
        gmsh.model.occ.cut([(2, plate)], [(2, hole)])
        gmsh.model.occ.synchronize()
        gmsh.write(str(folder / "plate.stp"))
        gmsh.clear()
    return folder


def test_step_solid_gives_tetrahedra_at_native_coordinates(cad_dir):
    mesh = read_mesh(cad_dir / "block.step", mesh_size=4.0)
    assert mesh.kind == "3D mesh" and set(mesh.volume_cells()) == {"tetra"}
    lo, hi = mesh.bounding_box()
    np.testing.assert_allclose(lo, [100, 200, 300], atol=1e-6)
    np.testing.assert_allclose(hi, [140, 220, 310], atol=1e-6)
    # the volume of the tetrahedra is the block's, 40 * 20 * 10
    p = mesh.points[mesh.cells["tetra"]]
    volume = np.abs(np.einsum("ij,ij->i", p[:, 1] - p[:, 0], np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]))).sum() / 6
    assert volume == pytest.approx(8000.0, rel=1e-9)
    # gmsh names the solid after the STEP product: kept as a physical group of the volume
    assert [g.dim for g in mesh.groups.values()] == [3]


def test_mesh_size_is_absolute_and_default_relative(cad_dir):
    coarse = read_mesh(cad_dir / "block.brep", mesh_size=4.0)
    fine = read_mesh(cad_dir / "block.brep", mesh_size=2.0)
    assert fine.num_points > 3 * coarse.num_points
    edges = np.linalg.norm(np.diff(coarse.points[coarse.cells["tetra"]][:, [0, 1]], axis=1)[:, 0], axis=1)
    assert edges.max() < 4.0 * 2.0 and np.median(edges) == pytest.approx(4.0, rel=0.2)
    default = read_mesh(cad_dir / "plate.stp")
    diag = np.hypot(2, 1)
    edges = np.linalg.norm(np.diff(default.points[default.cells["triangle"]][:, [0, 1]], axis=1)[:, 0], axis=1)
    assert np.median(edges) == pytest.approx(diag * DEFAULT_SIZE_FRACTION, rel=0.35)


def test_step_of_faces_is_a_2d_mesh_with_its_hole(cad_dir):
    mesh = read_mesh(cad_dir / "plate.stp", mesh_size=0.05)
    assert mesh.kind == "2D mesh" and mesh.geometric_dim == 2
    p = mesh.points[mesh.cells["triangle"]]
    a, b = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    area = 0.5 * np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum()
    assert area == pytest.approx(2.0 - np.pi * 0.2**2, rel=2e-3)  # polygonal hole: O(h^2) area error


def test_iges_of_faces_in_3d_is_a_surface_mesh(cad_dir):
    mesh = read_mesh(cad_dir / "block.iges", mesh_size=5.0)
    assert mesh.kind == "surface mesh in 3D"


def test_bad_mesh_size_and_corrupt_cad(cad_dir, tmp_path):
    with pytest.raises(MeshError, match="mesh size must be a positive number"):
        read_mesh(cad_dir / "block.step", mesh_size=0.0)
    with pytest.raises(MeshError, match="a mesh size applies to CAD files"):
        read_mesh(_write(tmp_path / "a.vtu"), mesh_size=1.0)
    bad = tmp_path / "garbage.step"
    bad.write_text("ISO-10303-21;\nHEADER;\nthis is not a step file\n")
    with pytest.raises(MeshError, match=r"garbage\.step: gmsh"):
        read_mesh(bad)


def _write(path):
    from graphops.io import write_mesh
    from graphops.mesh import Mesh

    write_mesh(path, Mesh(np.array([[0.0, 0], [1, 0], [0, 1]]), {"triangle": np.array([[0, 1, 2]])}))
    return path


def test_cli_info_on_step_with_mesh_size(cad_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "graphops", "info", str(cad_dir / "block.step"), "--mesh-size", "5", "--json"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["kind"] == "3D mesh" and info["cells"]["tetra"] > 0
    assert info["bounding_box"]["min"] == pytest.approx([100, 200, 300])
