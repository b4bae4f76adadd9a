"""predict with a (tiny) NUNO checkpoint trained on elasticity-holes: von Mises stress on a user's gmsh mesh."""
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from graphops.cli import main
from graphops.errors import ConfigError, DataError, MeshError
from graphops.io import read_mesh
from graphops.mesh import Mesh
from graphops.data.problems import elasticity_sides
from graphops.predict import predict

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """10 tiny elasticity-holes samples and a NUNO trained on them for 2 epochs (examples config, shrunk)."""
    from graphops.data import generate_dataset
    from graphops.train import train

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("elasticity")
    data = generate_dataset("elasticity-holes", 10, root / "data", tiny=True, seed=0, progress=False)
    cfg = yaml.safe_load((ROOT / "examples" / "configs" / "nuno-elasticity.yaml").read_text())
    cfg["data"]["root"] = str(data)
    cfg["model"].update({"n_subdomains": 4, "grid_shape": 8, "n_modes": 4, "hidden": 8, "layers": 2})
    cfg["train"].update({"epochs": 2, "batch_size": 2, "device": "cpu"})
    cfg["out"] = str(root / "run")
    return data, train(cfg, progress=False)


@pytest.fixture(scope="module")
def hole_msh(tmp_path_factory):
    """A unit square with a circular hole, meshed with gmsh and written as .msh."""
    from graphops.gmsh_model import gmsh_session

    path = tmp_path_factory.mktemp("mesh") / "square_hole.msh"
    with gmsh_session() as gmsh:
        gmsh.clear()
        gmsh.model.add("square_hole")
        occ = gmsh.model.occ
        square = occ.addRectangle(0, 0, 0, 1, 1)
        hole = occ.addDisk(0.45, 0.55, 0, 0.2, 0.2)
        cut, _ = occ.cut([(2, square)], [(2, hole)])
        occ.synchronize()
        gmsh.model.addPhysicalGroup(2, [t for _, t in cut], name="plate")
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.08)
        gmsh.model.mesh.generate(2)
        gmsh.write(str(path))
        gmsh.clear()
    return path


def test_cli_predicts_von_mises_with_fem_reference(trained, hole_msh, tmp_path, capsys):
    _, ckpt = trained
    out = tmp_path / "vm.vtu"
    assert main(["predict", str(ckpt), str(hole_msh), "-o", str(out), "--compare-fem"]) == 0
    printed = capsys.readouterr().out
    assert "note: loading as in training: bottom edge (y = 0) clamped" in printed
    assert "relative L2 error" in printed
    back = read_mesh(out)
    n = back.num_points
    for name in ("prediction", "fem", "error", "g"):
        values = np.asarray(back.point_data[name])
        assert values.shape == (n,) and np.isfinite(values).all(), name
    np.testing.assert_allclose(back.point_data["error"], back.point_data["prediction"] - back.point_data["fem"], atol=1e-9)
    assert back.point_data["fem"].max() > 0.1  # the plate is loaded
    # the traction acts on the nodes of the top side, the clamp on the bottom side
    y = back.points[:, 1]
    np.testing.assert_array_equal(back.point_data["g"] != 0, np.isclose(y, 1.0))
    np.testing.assert_array_equal(back.point_data["bc_dirichlet"] != 0, np.isclose(y, 0.0))
    assert out.with_suffix(".png").stat().st_size > 1000


def test_training_sample_gets_its_dataset_features_and_fem_solution(trained):
    """On a training mesh, predict must reproduce the dataset's model input (same prediction) and its target (FEM)."""
    from graphops.data import MeshDataset
    from graphops.train import load_model

    data, ckpt = trained
    dataset = MeshDataset(data)
    mesh = dataset.mesh(0)
    res = predict(ckpt, Mesh(mesh.points, mesh.cells, source="sample0"), compare_fem=True)
    model, normalizer, _ = load_model(ckpt)
    item = dataset[0]
    item.batch = torch.zeros(item.num_nodes, dtype=torch.long)
    with torch.no_grad():
        expected = normalizer.inverse_y(model(normalizer(item))).reshape(-1).double().numpy()
    np.testing.assert_allclose(res.prediction, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.mesh.point_data["fem"], dataset.raw_sample(0)["von_mises"], rtol=1e-8, atol=1e-10)
    assert res.relative_l2 is not None and np.isfinite(res.relative_l2)


def test_elasticity_errors(trained, hole_msh, cube_mesh, tmp_path, capsys):
    _, ckpt = trained
    with pytest.raises(ConfigError, match="--source do not apply to a model trained on 'elasticity-holes'"):
        predict(ckpt, hole_msh, source="x")
    with pytest.raises(ConfigError, match="--boundary do not apply"):
        predict(ckpt, hole_msh, boundary="1")
    assert main(["predict", str(ckpt), str(hole_msh), "--source", "1", "-o", str(tmp_path / "x.vtu")]) == 2
    assert "do not apply" in capsys.readouterr().err
    with pytest.raises(DataError, match="mesh is 3D but the checkpoint .* 2D"):
        predict(ckpt, cube_mesh)
    lines = Mesh(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]), {"line": np.array([[0, 1], [1, 2]])})
    with pytest.raises(MeshError, match="no 2D or 3D volume cells"):
        predict(ckpt, lines)
    with pytest.raises(MeshError, match="no boundary edge lies on the bottom"):
        elasticity_sides(_triangle())


def _triangle() -> Mesh:
    """A triangle standing on its tip: no horizontal bottom edge."""
    return Mesh(np.array([[0.5, 0.0], [1.0, 1.0], [0.0, 1.0]]), {"triangle": np.array([[0, 1, 2]])})


def test_a_part_in_millimetres_far_from_the_origin_gets_the_same_stress(trained, hole_msh):
    """Stress is invariant under the similarity law: the plate 1000 times larger and moved gives the same von Mises."""
    _, ckpt = trained
    mesh = read_mesh(hole_msh)
    base = predict(ckpt, Mesh(mesh.points, mesh.cells), compare_fem=True)
    big = predict(ckpt, Mesh(mesh.points * 1000.0 + [2.0e4, -5.0e3], mesh.cells), compare_fem=True)
    assert big.scale == pytest.approx(1000.0)
    np.testing.assert_allclose(big.prediction, base.prediction, rtol=1e-4, atol=1e-5 * np.abs(base.prediction).max())
    # the FEM reference of the big plate (same traction, same E) has the same stresses: the law holds
    np.testing.assert_allclose(big.mesh.point_data["fem"], base.mesh.point_data["fem"], rtol=1e-6,
                               atol=1e-9 * base.mesh.point_data["fem"].max())
    assert big.relative_l2 == pytest.approx(base.relative_l2, rel=1e-4)
