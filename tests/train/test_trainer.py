"""Trainer: outputs, determinism, resume after a stop or a SIGKILL, early stopping, bad data."""
import csv
import json
import logging
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import yaml

from graphops.errors import CheckpointError, ConfigError, DataError
from graphops.train import Trainer, load_checkpoint, load_model
from graphops.train.trainer import METRIC_COLUMNS
from train_helpers import poisson_dataset, run_config, state_close

HERE = Path(__file__).resolve().parent
N_TRAIN, N_VAL = 8, 4


@pytest.fixture(scope="module")
def data():
    ds = poisson_dataset(N_TRAIN + N_VAL)
    return ds[:N_TRAIN], ds[N_TRAIN:]


@pytest.fixture(scope="module")
def straight(tmp_path_factory, data):
    """A 4-epoch run without interruption: (out folder, final weights)."""
    out = tmp_path_factory.mktemp("straight")
    Trainer(run_config(out, epochs=4), *data, progress=False).fit()
    return out, load_checkpoint(out / "last.pt")["model_state"]


def _rows(out):
    with open(out / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


def test_writes_checkpoints_metrics_and_config(straight):
    out, _ = straight
    rows = _rows(out)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert tuple(rows[0]) == METRIC_COLUMNS
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])  # it learns
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["finished"] and not summary["stopped_early"]
    best = min(summary["epochs"], key=lambda r: r["val_rel_l2"])
    assert summary["best_epoch"] == best["epoch"]
    assert summary["best_val_rel_l2"] == pytest.approx(best["val_rel_l2"])
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["epochs"] == 4
    model, normalizer, meta = load_model(out / "best.pt")
    assert meta["epoch"] == best["epoch"] and meta["model_name"] == "beno"
    assert normalizer is not None and meta["run_config"]["out"] == str(out)
    payload = load_checkpoint(out / "last.pt")
    assert payload["epoch"] == 4 and payload["optimizer_state"] and payload["scheduler_state"]
    assert payload["extra"]["finished"] is True


def test_same_seed_gives_the_same_weights_and_resume_gives_the_same_run(tmp_path, data, straight):
    out = tmp_path / "resumed"
    Trainer(run_config(out, epochs=4), *data, progress=False).fit(stop_after=2)
    assert load_checkpoint(out / "last.pt")["epoch"] == 2
    assert len(_rows(out)) == 2
    Trainer(run_config(out, epochs=4), *data, progress=False).fit()
    assert state_close(load_checkpoint(out / "last.pt")["model_state"], straight[1]) < 1e-6
    a, b = _rows(out), _rows(straight[0])
    assert [r["val_rel_l2"] for r in a] == [r["val_rel_l2"] for r in b]
    assert [r["lr"] for r in a] == [r["lr"] for r in b]


def test_time_budget_stops_resumably_and_a_larger_budget_continues(tmp_path, data, straight):
    out = tmp_path / "budget"
    config = run_config(out, epochs=4)
    config["train"]["max_seconds"] = 1e-9  # the first epoch runs, then the budget is spent
    Trainer(config, *data, progress=False).fit()
    assert len(_rows(out)) == 1
    assert not json.loads((out / "metrics.json").read_text())["finished"]
    Trainer(config, *data, progress=False).fit()  # the same budget again: nothing more
    assert len(_rows(out)) == 1
    config["train"]["max_seconds"] = None  # a runtime setting: the same run continues to the end
    Trainer(config, *data, progress=False).fit()
    assert [int(r["epoch"]) for r in _rows(out)] == [1, 2, 3, 4]
    assert state_close(load_checkpoint(out / "last.pt")["model_state"], straight[1]) < 1e-6


def test_finished_run_is_not_trained_again(straight, data):
    out = straight[0]
    before = (out / "last.pt").stat().st_mtime_ns
    path = Trainer(run_config(out, epochs=4), *data, progress=False).fit()
    assert path == out / "best.pt"
    assert (out / "last.pt").stat().st_mtime_ns == before


def test_resume_with_another_config_is_refused(straight, data):
    with pytest.raises(ConfigError, match=r"different config \(train.lr\).*new out folder"):
        Trainer(run_config(straight[0], epochs=4, lr=1e-2), *data, progress=False).fit()
    # device / out are runtime settings: a changed device still resumes (nothing left to do here)
    Trainer(run_config(straight[0], epochs=4, device="auto"), *data, progress=False).fit()


KILLED_RUN = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {here!r})
    from train_helpers import poisson_dataset, run_config
    from graphops.train import Trainer
    ds = poisson_dataset({n})
    Trainer(run_config({out!r}, epochs=4), ds[:{k}], ds[{k}:], progress=False,
            on_epoch_end=lambda row: time.sleep(30)).fit()
    """
)


def test_sigkill_loses_only_the_epoch_in_progress(tmp_path, data, straight):
    out = tmp_path / "killed"
    script = KILLED_RUN.format(here=str(HERE), n=N_TRAIN + N_VAL, k=N_TRAIN, out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not (out / "metrics.json").exists():  # written after last.pt, then the run sleeps
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.time() < deadline, "first epoch did not finish"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert load_checkpoint(out / "last.pt")["epoch"] == 1
    Trainer(run_config(out, epochs=4), *data, progress=False).fit()
    assert [int(r["epoch"]) for r in _rows(out)] == [1, 2, 3, 4]
    assert state_close(load_checkpoint(out / "last.pt")["model_state"], straight[1]) < 1e-6


def test_early_stopping_and_step_schedule(tmp_path, data):
    out = tmp_path / "early"
    cfg = run_config(out, epochs=6, patience=2, min_delta=10.0, scheduler="step", step_size=1, gamma=0.5,
                     loss="mse")
    Trainer(cfg, *data, progress=False).fit()
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["stopped_early"] and summary["finished"]
    assert [r["epoch"] for r in summary["epochs"]] == [1, 2, 3]  # epoch 1 improves on inf, 2 and 3 do not
    assert [r["lr"] for r in summary["epochs"]] == pytest.approx([3e-3, 1.5e-3, 0.75e-3])
    assert summary["best_epoch"] == 1


def test_onecycle_without_validation_set_picks_best_by_train_loss(tmp_path, data):
    out = tmp_path / "noval"
    best = Trainer(run_config(out, epochs=2, scheduler="onecycle"), data[0], [], progress=False).fit()
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["epochs"][0]["val_rel_l2"] is None and summary["best_val_rel_l2"] is None
    assert best.name == "best.pt" and load_checkpoint(best)["scheduler_state"]["total_steps"] == 3


def test_nan_in_the_data_is_found_before_training(tmp_path, data):
    train = [d.clone() for d in data[0]]
    train[3].f[5] = float("inf")
    with pytest.raises(DataError, match="training set, sample 3: field 'f' has 1 NaN/inf"):
        Trainer(run_config(tmp_path / "nan"), train, data[1], progress=False).fit()
    val = [d.clone() for d in data[1]]
    val[0].y[0] = float("nan")
    with pytest.raises(DataError, match="validation set, sample 8: field 'y'"):
        Trainer(run_config(tmp_path / "nan"), data[0], val, progress=False).fit()
    assert not (tmp_path / "nan" / "last.pt").exists()


def test_diverging_loss_names_epoch_step_and_samples(tmp_path, data):
    with pytest.raises(DataError, match=r"loss is (nan|inf) at epoch 1, step \d+; batch samples \[\d+, \d+"):
        Trainer(run_config(tmp_path / "div", lr=1e30, weight_decay=0.0), *data, progress=False).fit()


def test_empty_training_set(tmp_path, data):
    with pytest.raises(DataError, match="training set is empty"):
        Trainer(run_config(tmp_path / "empty"), [], data[1])


def test_progress_bars_and_epoch_lines_on_request(tmp_path, data, capsys):
    Trainer(run_config(tmp_path / "bars", epochs=1), *data, progress=True).fit()
    err = capsys.readouterr().err
    assert "epoch 1/1  train " in err and "val rel L2" in err and "train: 100%" in err


def test_corrupt_last_checkpoint_is_named(tmp_path, data):
    out = tmp_path / "corrupt"
    out.mkdir()
    (out / "last.pt").write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="last.pt: checkpoint is corrupt"):
        Trainer(run_config(out), *data, progress=False).fit()



def _as_if_saved_before_the_settings(path, keys=("potentials", "source_tokens")):
    """Remove settings from every config a checkpoint stores, as a graphops without them would have saved it."""
    payload = load_checkpoint(path)
    for section in (payload["model_config"], payload["run_config"]["model"], payload["extra"]["identity"]["model"]):
        for key in keys:
            section.pop(key, None)
    torch.save(payload, path)


def test_a_run_from_before_a_changed_default_is_refused_then_resumes_once_the_config_names_it(
        tmp_path, data, caplog, monkeypatch):
    """A run saved before a setting existed leaves it out of every config it stored; when the value such runs
    were trained with (config_added) is not today's default, today's config would rebuild another model.
    Here: as if older graphops had always had layer potentials and the default had then turned them off."""
    from graphops.models import BENO

    monkeypatch.setattr(BENO, "config_added", {"potentials": True, "source_tokens": True})
    out = tmp_path / "old-default"
    config = run_config(out, epochs=2)
    config["model"].update({"potentials": True, "source_tokens": True})
    Trainer(config, *data, progress=False).fit(stop_after=1)
    _as_if_saved_before_the_settings(out / "last.pt")
    with pytest.raises(ConfigError, match=r"model.potentials: True \(now False\).*set them in the config"):
        Trainer(run_config(out, epochs=2), *data, progress=False).fit()
    Trainer(config, *data, progress=False).fit()  # naming the trained values resumes it
    assert load_checkpoint(out / "last.pt")["epoch"] == 2
    # a finished run of the old version is reused as it is under today's defaults (a warning names the settings)
    _as_if_saved_before_the_settings(out / "last.pt")
    with caplog.at_level(logging.WARNING, logger="graphops.train"):
        best = Trainer(run_config(out, epochs=2), *data, progress=False).fit()
    assert "model.potentials: True (now False)" in caplog.text
    assert load_model(best)[0].potentials is True
