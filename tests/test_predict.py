"""predict on a user's mesh file with a real (tiny) trained checkpoint."""
import numpy as np
import pytest
import torch

from graphops.cli import main
from graphops.errors import CheckpointError, ConfigError, DataError
from graphops.io import read_mesh
from graphops.data.problems import neumann_shift
from graphops.predict import predict

from pathlib import Path

SHIPPED_MESHES = Path(__file__).resolve().parents[1] / "meshes"


@pytest.fixture(scope="module")
def checkpoint(train_tiny_beno):
    return train_tiny_beno("predict", n=6, seed=3, batch_size=3)[1]


def test_predict_writes_vtu_png_and_compares(checkpoint, tmp_path):
    out = tmp_path / "pred.vtu"
    res = predict(checkpoint, SHIPPED_MESHES / "plate_with_hole.geo", source="sin(pi*x)", boundary="x*y", out=out, compare_fem=True)
    back = read_mesh(out)
    assert set(back.point_data) >= {"prediction", "fem", "error", "f", "g"}
    np.testing.assert_allclose(back.point_data["prediction"], res.prediction, rtol=1e-6)
    np.testing.assert_allclose(back.point_data["error"], res.prediction - back.point_data["fem"], atol=1e-9)
    # the FEM reference honours the boundary values
    from graphops.boundary import boundary_nodes

    b = boundary_nodes(back)
    np.testing.assert_allclose(back.point_data["fem"][b], (back.points[:, 0] * back.points[:, 1])[b], atol=1e-12)
    assert res.relative_l2 is not None and np.isfinite(res.relative_l2)
    assert (tmp_path / "pred.png").stat().st_size > 1000


def test_predict_point_data_inputs_match_formulas(checkpoint, tmp_path):
    mesh = read_mesh(SHIPPED_MESHES / "l_bracket.geo")
    mesh = mesh.with_point_data(src=np.cos(mesh.points[:, 0]), bnd=mesh.points[:, 1] ** 2)
    a = predict(checkpoint, mesh, source="src", boundary="bnd").prediction
    b = predict(checkpoint, mesh, source="cos(x)", boundary="y**2").prediction
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_predict_errors(checkpoint, tmp_path, cube_mesh):
    with pytest.raises(DataError, match="mesh is 3D but the checkpoint .* 2D"):
        predict(checkpoint, cube_mesh, boundary="x")
    with pytest.raises(ConfigError, match="boundary values are required"):
        predict(checkpoint, SHIPPED_MESHES / "t1.geo")
    with pytest.raises(ConfigError, match="unknown name 'w'"):
        predict(checkpoint, SHIPPED_MESHES / "t1.geo", boundary="w")
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(checkpoint.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="corrupt.pt"):
        predict(bad, SHIPPED_MESHES / "t1.geo", boundary="x")
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, other)
    with pytest.raises(CheckpointError, match="other.pt"):
        predict(other, SHIPPED_MESHES / "t1.geo", boundary="x")


def test_predict_cli(checkpoint, tmp_path, capsys):
    out = tmp_path / "cli.vtu"
    code = main(["predict", str(checkpoint), str(SHIPPED_MESHES / "t1.geo"), "--boundary", "1 + x", "--source", "0", "-o", str(out), "--compare-fem"])
    assert code == 0 and out.exists() and out.with_suffix(".png").exists()
    assert "relative L2 error" in capsys.readouterr().out
    assert main(["predict", str(checkpoint), str(tmp_path / "missing.msh"), "--boundary", "x", "-o", str(out)]) == 2
    assert "missing.msh: file not found" in capsys.readouterr().err


def test_neumann_shift_makes_data_compatible(holes_mesh):
    from graphops.solvers import solve_poisson

    p = holes_mesh.points
    f = 1 + p[:, 0]
    g = np.full(len(p), 0.5)
    _, shift = solve_poisson(holes_mesh, f=f, dirichlet=None, neumann="all", flux=g, return_shift=True)
    assert neumann_shift(holes_mesh, f, g) == pytest.approx(shift, rel=1e-10)


def test_predict_at_training_resolution_runs_on_a_coarse_graph(checkpoint, tmp_path, capsys):
    from graphops.geometry import cutout_square

    mesh = cutout_square(1, 0.02, 2)
    native = predict(checkpoint, mesh, source="1", boundary="x", png=False)
    out = tmp_path / "coarse.vtu"
    coarse = predict(checkpoint, mesh, source="1", boundary="x", out=out, png=False, resolution="training")
    notes = [n for n in coarse.notes if "coarse graph" in n]
    assert len(notes) == 1 and f"to the {mesh.num_points} mesh nodes" in notes[0]
    assert not any("coarse graph" in n for n in native.notes)
    assert coarse.prediction.shape == native.prediction.shape == (mesh.num_points,)
    assert np.isfinite(coarse.prediction).all()
    np.testing.assert_allclose(read_mesh(out).point_data["prediction"], coarse.prediction, rtol=1e-6)
    # the report describes the graph the model saw: the fine mesh's element size is outside the training range,
    # the coarse graph's is not
    fine_size = native.report.descriptors["element_size"]
    seen_size = coarse.report.descriptors["element_size"]
    assert seen_size > 2.5 * fine_size
    assert not any("element_size" in w for w in coarse.report.warnings)
    assert any("element_size" in w for w in native.report.warnings)
    with pytest.raises(ConfigError, match="resolution must be one of native, training"):
        predict(checkpoint, mesh, source="1", boundary="x", resolution="coarse")
    code = main(["predict", str(checkpoint), str(SHIPPED_MESHES / "plate_with_hole.geo"), "--boundary", "x",
                 "-o", str(tmp_path / "cli.vtu"), "--resolution", "training", "--no-png"])
    assert code == 0
