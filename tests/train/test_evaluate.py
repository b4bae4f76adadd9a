"""evaluate(): per-family relative L2 and MAE of a checkpoint, in physical units."""
import pytest
import torch
from torch_geometric.data import Batch

from graphops.errors import CheckpointError, DataError
from graphops.train import Trainer, evaluate, format_table, load_model
from train_helpers import poisson_dataset, run_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    data = poisson_dataset(12, families=(0, 1, 2))
    out = tmp_path_factory.mktemp("run")
    best = Trainer(run_config(out, epochs=1), data[:8], data[8:], progress=False).fit()
    return best, data


def test_per_family_metrics_match_a_direct_computation(trained):
    best, data = trained
    result = evaluate(best, data, device="cpu", batch_size=5, predictions=True)
    assert result["model"] == "beno" and result["epoch"] == 1
    assert set(result["families"]) == {"0", "1", "2"}
    assert result["overall"]["samples"] == 12 and result["families"]["1"]["samples"] == 4
    model, normalizer, _ = load_model(best)
    with torch.no_grad():
        for sample, row in zip(data, result["samples"]):
            pred = normalizer.inverse_y(model(normalizer(Batch.from_data_list([sample]))))
            assert row["sample_id"] == sample.sample_id and row["family"] == sample.family
            assert torch.allclose(row["pred"], pred, atol=1e-5)  # physical units
            err, ref = (pred - sample.y.reshape(pred.shape)).double(), sample.y.double()
            assert row["rel_l2"] == pytest.approx(float(err.norm() / ref.norm()), rel=1e-4)  # not the library's metric
            assert row["mae"] == pytest.approx(float(err.abs().mean()), rel=1e-4)
    fam1 = [r["rel_l2"] for r in result["samples"] if r["family"] == 1]
    assert result["families"]["1"]["rel_l2"] == pytest.approx(sum(fam1) / len(fam1))
    table = format_table(result)
    assert table.splitlines()[0].split()[:2] == ["family", "samples"] and table.splitlines()[-1].split()[:2] == ["all", "12"]


def test_family_filter_and_empty_selection(trained):
    best, data = trained
    result = evaluate(best, data, families=[2], device="cpu")
    assert list(result["families"]) == ["2"] and result["overall"]["samples"] == 4
    assert "pred" not in result["samples"][0]
    with pytest.raises(DataError, match=r"no samples to evaluate in families \[7\]"):
        evaluate(best, data, families=[7], device="cpu")


def test_data_without_targets_or_with_nan(trained):
    best, data = trained
    bare = [d.clone() for d in data[:2]]
    for d in bare:
        del d.y
    with pytest.raises(DataError, match="no target field 'y'"):
        evaluate(best, bare, device="cpu")
    broken = [d.clone() for d in data[:2]]
    broken[1].f[0] = float("nan")
    with pytest.raises(DataError, match="field 'f' has 1 NaN"):
        evaluate(best, broken, device="cpu")


def test_bad_checkpoint(tmp_path, trained):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="bogus.pt"):
        evaluate(bogus, trained[1], device="cpu")


def test_a_model_that_predicts_zero_has_relative_error_one(trained, tmp_path):
    """Hand-computed: with every weight zeroed the prediction is 0, so rel L2 = |0 - y| / |y| = 1, MAE = mean |y|."""
    best, data = trained
    payload = torch.load(best, weights_only=True)
    payload["model_state"] = {k: torch.zeros_like(v) for k, v in payload["model_state"].items()}
    zero = tmp_path / "zero.pt"
    torch.save(payload, zero)
    result = evaluate(zero, data, device="cpu", predictions=True)
    for sample, row in zip(data, result["samples"]):
        assert torch.count_nonzero(row["pred"]) == 0
        assert row["rel_l2"] == pytest.approx(1.0, abs=1e-12)
        assert row["mae"] == pytest.approx(float(sample.y.abs().double().mean()), rel=1e-6)
    assert result["overall"]["rel_l2"] == pytest.approx(1.0) and result["overall"]["rel_l2_std"] == pytest.approx(0.0, abs=1e-12)
