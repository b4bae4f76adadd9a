"""predict in the training frame: scale invariance, the OOD report, --strict, non-finite values, old checkpoints."""
import shutil

import numpy as np
import pytest
import torch

from graphops.cli import main
from graphops.errors import DataError
from graphops.mesh import Mesh
from graphops.predict import predict


@pytest.fixture(scope="module")
def trained(train_tiny_beno):
    """A tiny BENO trained on 6 poisson-dirichlet samples; (dataset root, checkpoint)."""
    return train_tiny_beno("frame", n=6, seed=5, batch_size=3)


@pytest.fixture(scope="module")
def sample(trained):
    """Training sample 0: its bare mesh (no groups, no data) and its own f and g."""
    from graphops.data import MeshDataset

    raw = MeshDataset(trained[0]).raw_sample(0)
    return Mesh(raw["points"], {"triangle": raw["cells"]}), raw["f"], raw["g"]


def _jittered(mesh: Mesh, seed: int = 0) -> Mesh:
    """The mesh with interior nodes moved a little: no node is exactly equidistant to two boundary facets."""
    from graphops.boundary import boundary_nodes

    rng = np.random.default_rng(seed)
    move = rng.uniform(-0.05, 0.05, mesh.points.shape) * 0.02
    move[boundary_nodes(mesh)] = 0.0
    return Mesh(mesh.points + move, dict(mesh.cells))


def test_checkpoint_stores_the_training_frame_loadable_with_weights_only(trained):
    from graphops.data import MeshDataset
    from graphops.data.frame import Frame, frame_from_graphs

    payload = torch.load(trained[1], weights_only=True)
    frame = Frame.from_dict(payload["extra"]["frame"])
    assert frame.num_samples == 6 and frame.dim == 2
    expected = frame_from_graphs(MeshDataset(trained[0]))
    for name in ("num_nodes", "element_size", "boundary_share", "f.max", "output.min"):
        np.testing.assert_allclose(np.sort(frame.descriptors[name]), np.sort(expected.descriptors[name]), rtol=1e-12)


def test_a_scaled_and_translated_mesh_gives_the_same_prediction(trained, sample):
    mesh, _, _ = sample
    mesh = _jittered(mesh)
    base = predict(trained[1], mesh, source="sin(pi*x) + 2*y", boundary="x*y + 1")
    assert base.report is not None and base.scale == pytest.approx(1.0, abs=1e-6)
    for factor, shift in ((1000.0, (-2.5e4, 7.0e3)), (1024.0, (4096.0, -8192.0))):
        big = Mesh(mesh.points * factor + np.asarray(shift), dict(mesh.cells))
        x, y = (f"((x - {shift[0]!r}) / {factor!r})", f"((y - {shift[1]!r}) / {factor!r})")
        res = predict(trained[1], big, source=f"(sin(pi*{x}) + 2*{y}) / {factor**2!r}", boundary=f"{x}*{y} + 1")
        assert res.scale == pytest.approx(factor, rel=1e-6)
        np.testing.assert_allclose(res.prediction, base.prediction, rtol=1e-4, atol=1e-5 * np.abs(base.prediction).max())
        assert [e["inside"] for e in res.report.entries] == [e["inside"] for e in base.report.entries]
    # without rescaling the model sees coordinates it never saw, and the report says so
    raw = predict(trained[1], big, source=f"(sin(pi*{x}) + 2*{y}) / {factor**2!r}", boundary=f"{x}*{y} + 1", rescale=False)
    assert {"extent_x", "extent_y"} <= {e["quantity"] for e in raw.report.outside}
    assert np.abs(raw.prediction - base.prediction).max() > 1e-3 * np.abs(base.prediction).max()


def test_inputs_far_above_the_training_magnitudes_are_scaled_linearly(trained, sample):
    """Both are brought to the same framed inputs, so the predictions differ by exactly the factor 10."""
    mesh, f, g = sample
    big = predict(trained[1], mesh, source=1e6 * f, boundary=1e6 * g)
    bigger = predict(trained[1], mesh, source=1e7 * f, boundary=1e7 * g)
    np.testing.assert_allclose(bigger.prediction, 10 * big.prediction, rtol=1e-6)
    assert any("divided by" in note for note in big.notes)
    assert not big.report.outside  # the framed inputs are back in the training magnitudes


def test_report_on_a_training_sample_is_clean_and_flags_a_stretched_part(trained, sample, tmp_path):
    mesh, f, g = sample
    res = predict(trained[1], mesh, source=f, boundary=g, out=tmp_path / "in.vtu", png=False)
    assert res.report.entries and not res.report.outside
    import json

    stored = json.loads((tmp_path / "in.ood.json").read_text())
    assert stored["inside"] is True and stored["warnings"] == []

    stretched = Mesh(mesh.points * [3.0, 1.0], dict(mesh.cells))
    res = predict(trained[1], stretched, source="0", boundary="x", out=tmp_path / "wide.vtu", png=False)
    stored = json.loads((tmp_path / "wide.ood.json").read_text())
    assert stored["inside"] is False
    assert any(w.startswith("aspect is 3, outside the training range 1..1") for w in stored["warnings"])
    assert stored["warnings"] == res.report.warnings


def test_strict_refuses_and_writes_nothing(trained, sample, tmp_path, capsys):
    mesh, _, _ = sample
    stretched = Mesh(mesh.points * [3.0, 1.0], dict(mesh.cells))
    out = tmp_path / "strict.vtu"
    with pytest.raises(DataError, match=r"outside the training data \(--strict\): .*aspect is 3"):
        predict(trained[1], stretched, boundary="x", out=out, strict=True)
    assert not list(tmp_path.iterdir())
    from graphops.io import write_mesh

    write_mesh(tmp_path / "wide.vtu", stretched)
    code = main(["predict", str(trained[1]), str(tmp_path / "wide.vtu"), "--boundary", "x", "-o", str(out), "--strict"])
    assert code == 2 and not out.exists()
    assert "aspect is 3, outside the training range" in capsys.readouterr().err
    code = main(["predict", str(trained[1]), str(tmp_path / "wide.vtu"), "--input", "boundary=x", "-o", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and out.exists() and "warning: aspect is 3" in printed and "wrote ood:" in printed
    assert main(["predict", str(trained[1]), str(tmp_path / "wide.vtu"), "--input", "boundary", "-o", str(out)]) == 2
    assert "--input must look like NAME=FORMULA" in capsys.readouterr().err
    assert main(["predict", str(trained[1]), str(tmp_path / "wide.vtu"), "--input", "conductivity=1", "--boundary",
                 "x", "-o", str(out)]) == 2
    assert "--conductivity do not apply to a model trained on 'poisson-dirichlet'" in capsys.readouterr().err


def test_non_finite_inputs_and_predictions_are_errors_without_files(trained, sample, tmp_path, monkeypatch):
    mesh, _, _ = sample
    nan = np.zeros(mesh.num_points)
    nan[3] = np.nan
    out = tmp_path / "bad.vtu"
    with pytest.raises(DataError, match="NaN or infinite values"):
        predict(trained[1], mesh.with_point_data(bnd=nan), boundary="bnd", out=out)
    import graphops.predict as predict_module

    real = predict_module._run_model

    def broken(*args, **kwargs):
        values, seconds = real(*args, **kwargs)
        values[..., 5, :] = np.inf  # node 5 (of every query)
        return values, seconds

    monkeypatch.setattr(predict_module, "_run_model", broken)
    with pytest.raises(DataError, match="prediction has NaN or infinite values at 1 nodes; nothing was written"):
        predict(trained[1], mesh, boundary="x", out=out)
    assert not list(tmp_path.iterdir())


def test_old_checkpoint_frame_from_dataset_then_problem(trained, sample, tmp_path):
    from graphops.train.checkpoint import load_checkpoint

    mesh, f, g = sample
    data = tmp_path / "data"
    shutil.copytree(trained[0], data)
    payload = load_checkpoint(trained[1])
    payload["extra"].pop("frame")
    payload["run_config"]["data"]["root"] = str(data)
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    new = predict(trained[1], mesh, source=f, boundary=g)
    from_data = predict(old, mesh, source=f, boundary=g)
    assert from_data.report.frame_source == "dataset"
    assert [e["high"] for e in from_data.report.entries] == [e["high"] for e in new.report.entries]
    shutil.rmtree(data)
    from_problem = predict(old, Mesh(mesh.points * 7 - 3, dict(mesh.cells)), source=f / 49, boundary=g)
    assert from_problem.report.frame_source == "problem" and from_problem.scale == pytest.approx(7.0)
    assert {e["quantity"] for e in from_problem.report.entries} == {"aspect", "extent_x", "extent_y"}
    np.testing.assert_allclose(from_problem.prediction, new.prediction, rtol=1e-4, atol=1e-5 * np.abs(new.prediction).max())
