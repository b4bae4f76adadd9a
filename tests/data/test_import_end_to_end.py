"""Files written by another solver (NGSolve, shipped in tests/data/ngsolve_files) through the whole CLI:
``graphops import`` -> ``train`` (1-2 epochs) -> ``evaluate`` -> ``predict`` writing the named targets.

The oracle of the written prediction is the model itself: the VTU must hold, under the target's own
name, exactly what the checkpoint's model outputs for that mesh's graph, and the solver's own field
(kept as ``<name>_given``) must equal the file's.
"""
from __future__ import annotations

import json
from pathlib import Path

import meshio
import numpy as np
import pytest
import yaml

from graphops.cli import main

NGSOLVE = Path(__file__).parent / "ngsolve_files"


def _run(tmp_path: Path, case: str, spec_args: list, model: dict) -> tuple:
    data, out = tmp_path / "data", tmp_path / "run"
    assert main(["import", str(NGSOLVE / case), "--out", str(data), "--quiet", *spec_args]) == 0
    config = {
        "data": {"root": str(data), "train_families": [0], "test_families": [0], "val_fraction": 0.0,
                 "test_fraction": 0.34},
        "model": model,
        "train": {"epochs": 2, "batch_size": 2, "device": "cpu", "seed": 0},
        "out": str(out),
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", str(tmp_path / "run.yaml"), "--no-progress"]) == 0
    result = tmp_path / "evaluate.json"
    assert main(["evaluate", str(out / "best.pt"), str(data), "--json", str(result), "--device", "cpu"]) == 0
    return data, out / "best.pt", json.loads(result.read_text())


def _model_output(checkpoint: Path, mesh_file: Path) -> np.ndarray:
    """What the checkpoint's model predicts for the mesh (the oracle for the written VTU)."""
    import torch

    from graphops.data.dataset import sample_graph
    from graphops.data.importer import Source, read_source
    from graphops.data.imported import ImportedProblem
    from graphops.train.checkpoint import load_model

    model, normalizer, meta = load_model(checkpoint)
    problem = ImportedProblem(meta["extra"]["dataset"]["imported"])
    mesh, _, _ = read_source(Source(str(mesh_file)), False)
    data = normalizer(sample_graph(mesh, problem.prediction_fields(mesh, {})))
    data.batch = torch.zeros(mesh.num_points, dtype=torch.long)
    with torch.no_grad():
        return normalizer.inverse_y(model(data)).double().numpy()


HEAT_SPEC = ["--inputs", "k,q", "--targets", "T", "--boundary-marker", "dirichlet", "--boundary-values", "T_bc"]


@pytest.fixture(scope="module")
def heat_run(tmp_path_factory):
    """BENO (boundary values from the named field T_bc) trained 2 epochs on the shipped NGSolve plates."""
    tmp = tmp_path_factory.mktemp("heat2d")
    return tmp, *_run(tmp, "heat2d", HEAT_SPEC, {"name": "beno", "hidden": 8, "layers": 1, "boundary_layers": 1})


def test_heat2d_scalar_target(heat_run):
    tmp_path, data, best, result = heat_run
    assert result["overall"]["samples"] == 5 and np.isfinite(result["overall"]["rel_l2"])
    assert json.loads((data / "manifest.json").read_text())["channels"]["in_channels"] == 2
    new = sorted((NGSOLVE / "heat2d").glob("*.vtu"))[-1]
    out = tmp_path / "pred.vtu"
    assert main(["predict", str(best), str(new), "-o", str(out), "--compare-fem"]) == 0
    written, given = meshio.read(out), meshio.read(new)
    np.testing.assert_allclose(written.point_data["T"], _model_output(best, new)[:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(written.point_data["fem"], given.point_data["T"])  # the solver's own T
    np.testing.assert_allclose(written.point_data["error"], written.point_data["T"] - given.point_data["T"],
                               atol=1e-9)
    for name in ("k", "q", "T_bc"):  # the inputs stay as they were
        np.testing.assert_array_equal(written.point_data[name], given.point_data[name])


def test_elastic3d_vector_target(tmp_path):
    spec = ["--inputs", "E,body_force", "--targets", "displacement", "--boundary-marker", "fixed"]
    data, best, result = _run(tmp_path, "elastic3d", spec, {"name": "gno", "hidden": 4, "iterations": 1})
    assert result["overall"]["samples"] == 2
    new = sorted((NGSOLVE / "elastic3d").glob("*.vtu"))[0]
    out = tmp_path / "pred.vtu"
    assert main(["predict", str(best), str(new), "-o", str(out)]) == 0
    written = meshio.read(out)
    assert written.point_data["displacement"].shape == (len(written.points), 3)  # ParaView Warp By Vector
    np.testing.assert_allclose(written.point_data["displacement"], _model_output(best, new), rtol=1e-5, atol=1e-6)


def test_predict_names_a_missing_input_field(heat_run):
    from graphops.errors import DataError
    from graphops.predict import predict

    tmp_path, _, best, _ = heat_run
    raw = meshio.read(sorted((NGSOLVE / "heat2d").glob("*.vtu"))[0])
    del raw.point_data["q"]
    bare = tmp_path / "no_q.vtu"
    meshio.write(bare, raw)
    with pytest.raises(DataError, match="no_q.vtu: has no point field 'q'"):
        predict(best, bare, out=tmp_path / "x.vtu")
    assert main(["predict", str(best), str(bare), "-o", str(tmp_path / "y.vtu"), "--source", "x"]) == 2
    # a formula can stand in for the missing field (the "or formulas for them")
    result = predict(best, bare, out=tmp_path / "z.vtu", inputs={"q": "10*x*y"}, png=False)
    np.testing.assert_allclose(result.mesh.point_data["f"][:, 1], 10 * raw.points[:, 0] * raw.points[:, 1],
                               rtol=1e-6)


def test_ngsolve_writes_files_graphops_imports(tmp_path):
    """The solver side itself (skipped when NGSolve is not installed)."""
    pytest.importorskip("ngsolve")
    import importlib
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    example = importlib.import_module("06_independent_solver_data")
    files = example.write_dataset_files(tmp_path / "heat", "heat", 2, 0.2, seed=3)
    raw = meshio.read(files[0])
    assert {"k", "q", "dirichlet", "T_bc", "T"} <= set(raw.point_data)
    from graphops.data import MeshDataset
    from graphops.data.importer import import_dataset

    ds = MeshDataset(import_dataset(tmp_path / "heat", example.HEAT_SPEC, tmp_path / "data", progress=False))
    np.testing.assert_allclose(ds[0].y[:, 0].numpy(), raw.point_data["T"], rtol=1e-6)
    # NGSolve's T meets T_bc on the marked boundary (its Dirichlet condition), up to the boundary projection
    # NGSolve applies to g (GridFunction.Set: not nodal interpolation; 0.3 % of max |g| on this coarse mesh)
    marked = raw.point_data["dirichlet"] != 0
    scale = np.abs(raw.point_data["T_bc"]).max()
    np.testing.assert_allclose(raw.point_data["T"][marked], raw.point_data["T_bc"][marked], atol=0.01 * scale)
    assert not np.allclose(raw.point_data["T"][~marked], 0.0)
