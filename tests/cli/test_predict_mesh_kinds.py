"""graphops predict --compare-fem on quadrilateral and CAD inputs (--mesh-size), with a tiny trained checkpoint."""
from __future__ import annotations

import numpy as np
import pytest

from graphops.cli import main
from graphops.gmsh_model import gmsh_session
from graphops.io import read_mesh, write_mesh


@pytest.fixture(scope="module")
def checkpoint(train_tiny_beno):
    return train_tiny_beno("predict_kinds", n=3, seed=5, batch_size=3)[1]


def test_compare_fem_on_a_quadrilateral_mesh(checkpoint, tmp_path, quad_mesh, capsys):
    assert set(quad_mesh.volume_cells()) == {"quad"}
    path = write_mesh(tmp_path / "quads.vtu", quad_mesh)
    out = tmp_path / "pred.vtu"
    assert main(["predict", str(checkpoint), str(path), "--boundary", "1 + x", "-o", str(out), "--compare-fem", "--no-png"]) == 0
    assert "relative L2 error" in capsys.readouterr().out
    back = read_mesh(out)
    # the FEM reference is exact for the harmonic boundary data 1 + x with no source (Q1 patch test)
    np.testing.assert_allclose(back.point_data["fem"], 1 + back.points[:, 0], atol=1e-10)


def test_step_part_with_mesh_size(checkpoint, tmp_path, capsys):
    step = tmp_path / "plate.step"
    with gmsh_session() as gmsh:
        gmsh.clear()
        plate = gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
        hole = gmsh.model.occ.addDisk(0.5, 0.5, 0, 0.2, 0.2)
        gmsh.model.occ.cut([(2, plate)], [(2, hole)])
        gmsh.model.occ.synchronize()
        gmsh.write(str(step))
        gmsh.clear()
    out = tmp_path / "plate.vtu"
    code = main(["predict", str(checkpoint), str(step), "--mesh-size", "0.1", "--boundary", "x", "-o", str(out), "--compare-fem", "--no-png"])
    assert code == 0
    coarse = read_mesh(out).num_points
    main(["predict", str(checkpoint), str(step), "--mesh-size", "0.05", "--boundary", "x", "-o", str(out), "--no-png"])
    assert read_mesh(out).num_points > 2.5 * coarse
    capsys.readouterr()
    assert main(["info", str(step), "--mesh-size", "0"]) == 2
    assert "mesh size must be a positive number" in capsys.readouterr().err
