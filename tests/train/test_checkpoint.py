"""Checkpoints: atomic save, safe load, model rebuilt from the stored config, clear errors."""
import os
import zipfile

import pytest
import torch

from graphops import __version__
from graphops.errors import CheckpointError
from graphops.models import build_model
from graphops.train.checkpoint import FORMAT_VERSION, load_checkpoint, load_model, save_checkpoint
from graphops.train.normalize import FieldNormalizer
from train_helpers import TINY_MODEL, poisson_dataset


@pytest.fixture(scope="module")
def data():
    return poisson_dataset(4)


@pytest.fixture
def saved(tmp_path, data):
    torch.manual_seed(0)
    model = build_model(dict(TINY_MODEL))
    norm = FieldNormalizer().fit(data)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 5)
    path = save_checkpoint(tmp_path / "ck" / "model.pt", model, opt, sched, norm, epoch=3,
                           metrics={"val_rel_l2": 0.5}, run_config={"out": "x"})
    return path, model, norm


def test_roundtrip_rebuilds_the_model_from_the_file_alone(saved, data):
    path, model, norm = saved
    loaded, loaded_norm, meta = load_model(path)
    assert type(loaded) is type(model)
    assert meta["model_config"] == model.config and meta["epoch"] == 3
    assert meta["metrics"] == {"val_rel_l2": 0.5} and meta["graphops_version"] == __version__
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    assert torch.equal(loaded_norm.scales["y"], norm.scales["y"])
    sample = norm(data[0])
    model.eval()
    with torch.no_grad():
        assert torch.allclose(loaded(sample), model(sample))


def test_payload_holds_training_state_and_versions(saved):
    payload = load_checkpoint(saved[0])
    assert payload["format_version"] == FORMAT_VERSION
    assert payload["model_name"] == "beno"
    assert payload["optimizer_state"]["param_groups"][0]["lr"] == 1e-3
    assert payload["scheduler_state"]["T_max"] == 5
    assert set(payload["rng_state"]) >= {"python", "numpy", "torch"}
    assert not [p for p in os.listdir(saved[0].parent) if p.startswith(".")]  # no temp file left


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found") as err:
        load_checkpoint(tmp_path / "none.pt")
    assert "none.pt" in str(err.value)


def test_truncated_and_garbage_files_are_corrupt(saved, tmp_path):
    blob = saved[0].read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="corrupt") as err:
        load_checkpoint(cut)
    assert "cut.pt" in str(err.value)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint\n" * 10)
    with pytest.raises(CheckpointError, match="corrupt|not a graphops"):
        load_checkpoint(junk)


def test_bare_state_dict_is_not_a_graphops_checkpoint(saved, tmp_path):
    bare = tmp_path / "bare.pt"
    torch.save(saved[1].state_dict(), bare)
    with pytest.raises(CheckpointError, match="not a graphops checkpoint"):
        load_model(bare)


def test_pickled_objects_are_refused(tmp_path):
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"format": "graphops-checkpoint", "thing": zipfile.ZipInfo("x")}, unsafe)
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        load_checkpoint(unsafe)


def test_other_model_kind_and_mismatched_weights(saved, tmp_path):
    path = saved[0]
    with pytest.raises(CheckpointError, match="holds a 'beno' model, expected a 'gno'"):
        load_model(path, expected_model="gno")
    payload = load_checkpoint(path)
    payload["model_config"] = dict(payload["model_config"], hidden=16)  # config and weights disagree
    other = tmp_path / "other.pt"
    torch.save(payload, other)
    with pytest.raises(CheckpointError, match="weights do not fit model 'beno'"):
        load_model(other)
    payload["model_config"] = {"name": "nonexistent"}
    payload["model_name"] = "nonexistent"
    torch.save(payload, other)
    with pytest.raises(CheckpointError, match="cannot rebuild model 'nonexistent'"):
        load_model(other)


def test_future_format_version(saved, tmp_path):
    payload = load_checkpoint(saved[0])
    payload["format_version"] = FORMAT_VERSION + 1
    newer = tmp_path / "newer.pt"
    torch.save(payload, newer)
    with pytest.raises(CheckpointError, match="format version"):
        load_checkpoint(newer)


def test_a_checkpoint_from_before_an_added_setting_rebuilds_the_model_it_was_trained_as(tmp_path, data):
    """BENO gained source_tokens and potentials after checkpoints existed: a stored config without them
    rebuilds the model it was trained as (its class's config_added values), whatever today's defaults."""
    torch.manual_seed(0)
    old = build_model({**TINY_MODEL, "source_tokens": False, "potentials": False})
    path = save_checkpoint(tmp_path / "old.pt", old, epoch=1)
    payload = torch.load(path, weights_only=True)
    for key in ("source_tokens", "potentials"):
        del payload["model_config"][key]
    torch.save(payload, path)
    loaded, _, meta = load_model(path)
    assert "potentials" not in meta["model_config"]
    assert loaded.source_tokens is False and loaded.potentials is False
    old.eval()
    with torch.no_grad():
        assert torch.allclose(loaded(data[0]), old(data[0]))
