"""No .geo file can end the calling process: gmsh runs them in a child (graphops.io.isolated)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from graphops.errors import MeshError
from graphops.io import isolated, read_mesh

SQUARE = """Point(1) = {0, 0, 0, 0.2}; Point(2) = {1, 0, 0, 0.2}; Point(3) = {1, 1, 0, 0.2}; Point(4) = {0, 1, 0, 0.2};
Line(1) = {1, 2}; Line(2) = {2, 3}; Line(3) = {3, 4}; Line(4) = {4, 1};
Curve Loop(1) = {1, 2, 3, 4}; Plane Surface(1) = {1};
"""

# A post-processing view of text annotations, as in gmsh's tutorial t4.geo.
TEXT_VIEW = """View "comments" {
  T2(10, -10, 0){ StrCat("Created on ", Today, " with Gmsh") };
  T3(0, 0.11, 0, TextAttributes("Align", "Center")){ "Hole", "in the square" };
};
"""


def test_text_annotation_view_is_ignored(tmp_path):
    geo = tmp_path / "annotated.geo"
    geo.write_text(SQUARE + TEXT_VIEW)
    mesh = read_mesh(geo)
    plain = tmp_path / "plain.geo"
    plain.write_text(SQUARE)
    reference = read_mesh(plain)
    assert mesh.num_points == reference.num_points and mesh.num_cells() == reference.num_cells() > 0
    assert mesh.point_data == {}  # the text view is no node field


def test_exit_command_does_not_end_the_caller(tmp_path):
    geo = tmp_path / "exits.geo"
    geo.write_text(SQUARE + "Exit;\n")
    with pytest.raises(MeshError, match=r"exits\.geo: gmsh ended without a mesh, exit status 0"):
        read_mesh(geo)


def test_gmsh_abort_becomes_one_line_mesh_error(tmp_path, monkeypatch):
    """The real abort of the issue (SIGABRT from gmsh C++) in the child, a MeshError in the caller."""
    geo = tmp_path / "annotated.geo"
    geo.write_text(SQUARE + TEXT_VIEW)
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    monkeypatch.setitem(isolated.READERS, "abort", "gmsh_abort_helper:abort_on_list_view")
    with pytest.raises(MeshError) as err:
        isolated.read_in_child(str(geo), "abort")
    message = str(err.value)
    assert message.startswith(f"{geo}: gmsh crashed on this file (SIGABRT")
    assert "does not contain model data" in message and "\n" not in message


def test_cli_info_on_crashing_geo_is_a_clean_error(tmp_path):
    geo = tmp_path / "exits.geo"
    geo.write_text(SQUARE + "Exit;\n")
    proc = subprocess.run([sys.executable, "-m", "graphops", "info", str(geo)], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("graphops: error:") and "Traceback" not in proc.stderr


def test_child_timeout(tmp_path):
    geo = tmp_path / "square.geo"
    geo.write_text(SQUARE)
    with pytest.raises(MeshError, match="longer than 0.001 s"):
        isolated.read_in_child(str(geo), "geo", timeout=0.001)


def test_broken_geo_error_comes_back_from_the_child(tmp_path):
    geo = tmp_path / "broken.geo"
    geo.write_text("Point(1) = {0, 0, 0\n")
    with pytest.raises(MeshError, match=r"broken\.geo: gmsh cannot read this file"):
        read_mesh(geo)


def test_outcome_round_trip_keeps_every_part_of_the_mesh():
    import numpy as np

    from graphops.mesh import Mesh, PhysicalGroup

    mesh = Mesh(
        np.random.rand(5, 3),
        {"tetra": np.array([[0, 1, 2, 3], [1, 2, 3, 4]]), "triangle": np.array([[0, 1, 2]])},
        {"u": np.arange(5.0), "v": np.ones((5, 3))},
        {"region": {"tetra": np.array([7, 8])}},
        {"solid": PhysicalGroup("solid", 3, 4, {"tetra": np.array([[0, 1, 2, 3]])}), "empty": PhysicalGroup("empty", 2)},
        source="part.step",
    )
    status, back = isolated.decode_outcome(isolated.encode_outcome("ok", mesh))
    assert status == "ok" and back.source == "part.step"
    np.testing.assert_array_equal(back.points, mesh.points)
    assert {t: c.tolist() for t, c in back.cells.items()} == {t: c.tolist() for t, c in mesh.cells.items()}
    assert back.point_data["v"].shape == (5, 3) and back.cell_data["region"]["tetra"].tolist() == [7, 8]
    assert [(g.name, g.dim, g.tag) for g in back.groups.values()] == [("solid", 3, 4), ("empty", 2, -1)]
    assert back.groups["solid"].cells["tetra"].tolist() == [[0, 1, 2, 3]] and back.groups["empty"].cells == {}
    assert isolated.decode_outcome(isolated.encode_outcome("error", "no surfaces")) == ("error", "no surfaces")
