"""``graphops train`` and ``graphops evaluate`` from the command line, on a generated dataset."""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from graphops.cli import main
from graphops.data import generate_dataset
from graphops.train import load_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from train_helpers import state_close  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 4


def _config(data_root, out, **train):
    """The documented example, shrunk: train on family 4, test on 0 and 4."""
    cfg = {
        "data": {"root": str(data_root), "train_families": [4], "test_families": [0, 4], "val_fraction": 0.25,
                 "test_fraction": 0.25},
        "model": {"name": "beno", "hidden": 8, "layers": 1, "mlp_layers": 1, "boundary_layers": 1,
                  "max_boundary_tokens": 16},
        "train": {"epochs": EPOCHS, "batch_size": 2, "lr": 3e-3, "weight_decay": 1e-4, "scheduler": "cosine",
                  "patience": 10, "seed": 0, "device": "auto", "loss": "rel_l2"},
        "out": str(out),
    }
    cfg["train"].update(train)
    return cfg


def _rows(out):
    with open(Path(out) / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


def _weights(out):
    return load_checkpoint(Path(out) / "last.pt")["model_state"]


def _cli(*args):
    return [sys.executable, "-m", "graphops", *args]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """12 tiny Poisson-Dirichlet samples: 7 with 4 cut-outs (2 test, 1 val, 4 train), 5 with none (test)."""
    out = tmp_path_factory.mktemp("data") / "poisson"
    return generate_dataset("poisson-dirichlet", 12, out, seed=4, tiny=True, progress=False, cutouts=[0, 4])


@pytest.fixture(scope="module")
def trained(tmp_path_factory, dataset):
    """An uninterrupted ``graphops train`` run: (config path, out folder, captured stdout)."""
    folder = tmp_path_factory.mktemp("run")
    config = folder / "run.yaml"
    config.write_text(yaml.safe_dump(_config(dataset, folder / "out")))
    proc = subprocess.run(_cli("train", str(config)), capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return config, folder / "out", proc.stdout


def _family_counts(dataset):
    from graphops.data import MeshDataset

    fams = MeshDataset(dataset).families_of_items().tolist()
    return fams.count(0), fams.count(4)


def test_train_writes_everything_and_reports(trained, dataset):
    config, out, stdout = trained
    assert f"best checkpoint: {out / 'best.pt'}" in stdout
    for name in ("config.yaml", "last.pt", "best.pt", "metrics.csv", "metrics.json", "test_metrics.json"):
        assert (out / name).is_file(), name
    assert [int(r["epoch"]) for r in _rows(out)] == list(range(1, EPOCHS + 1))
    test = json.loads((out / "test_metrics.json").read_text())
    n0, n4 = _family_counts(dataset)
    assert (n0, n4) == (5, 7)
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["best_val_rel_l2"] is not None and all(r["val_rel_l2"] for r in summary["epochs"])
    assert set(test["families"]) == {"0", "4"}
    assert test["families"]["0"]["samples"] == n0 and test["families"]["4"]["samples"] == round(0.25 * n4)
    train_val = load_checkpoint(out / "last.pt")["run_config"]
    assert train_val["data"]["train_families"] == [4]
    assert "family" in stdout and "all" in stdout.splitlines()[-1]


def test_running_again_resumes_a_finished_run_without_training(trained):
    config, out, _ = trained
    before = (out / "last.pt").stat().st_mtime_ns
    assert main(["train", str(config), "--no-progress"]) == 0
    assert (out / "last.pt").stat().st_mtime_ns == before


def test_evaluate_prints_a_table_and_writes_json(trained, dataset, tmp_path, capsys):
    _, out, _ = trained
    report = tmp_path / "eval.json"
    code = main(["evaluate", str(out / "best.pt"), str(dataset), "--families", "0,4", "--json", str(report),
                 "--device", "cpu"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["family", "samples", "rel", "L2", "rel", "L2", "std", "MAE"]
    assert [line.split()[0] for line in lines[3:6]] == ["0", "4", "all"]
    result = json.loads(report.read_text())
    assert result["overall"]["samples"] == 12 and len(result["samples"]) == 12
    assert result["families"]["0"]["samples"] == _family_counts(dataset)[0]


def test_sigkill_during_train_then_rerun_gives_the_uninterrupted_result(trained, tmp_path):
    config, straight_out, _ = trained
    out = tmp_path / "killed"
    proc = subprocess.Popen(_cli("train", str(config), "--out", str(out), "--no-progress"), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not (out / "last.pt").exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.time() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    epoch = load_checkpoint(out / "last.pt")["epoch"]
    # never a silent skip: the kill lands at the first of EPOCHS checkpoints; a run that beat it is a failure
    assert epoch < EPOCHS, "the run finished before it could be killed: make the run longer"
    assert main(["train", str(config), "--out", str(out), "--no-progress"]) == 0
    assert [int(r["epoch"]) for r in _rows(out)] == list(range(1, EPOCHS + 1))
    assert state_close(_weights(out), _weights(straight_out)) < 1e-6


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None, reason="no torchrun")
def test_torchrun_two_processes(trained, tmp_path):
    config, straight_out, _ = trained
    out = tmp_path / "ddp"
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node=2", "-m", "graphops", "train", str(config),
         "--out", str(out), "--device", "cpu", "--no-progress"],
        capture_output=True, text=True, cwd=ROOT, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("best checkpoint:") == 1  # only rank 0 reports
    assert [int(r["epoch"]) for r in _rows(out)] == list(range(1, EPOCHS + 1))
    assert state_close(_weights(out), _weights(straight_out)) < 1e-5


@pytest.mark.slow
def test_nproc_two_spawns_processes(trained, tmp_path, capsys):
    config, straight_out, _ = trained
    out = tmp_path / "spawned"
    assert main(["train", str(config), "--nproc", "2", "--out", str(out), "--device", "cpu", "--no-progress"]) == 0
    assert f"best checkpoint: {out / 'best.pt'}" in capsys.readouterr().out
    assert state_close(_weights(out), _weights(straight_out)) < 1e-5


def test_train_bad_config_names_the_key(tmp_path, dataset, capsys):
    cfg = _config(dataset, tmp_path / "out")
    cfg["train"]["lr"] = 0
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path)]) == 2
    assert capsys.readouterr().err.strip() == f"graphops: error: {path}: train.lr: must be > 0, got 0"


def test_train_takes_dotted_overrides(tmp_path, dataset, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(_config(dataset, tmp_path / "out")))
    assert main(["train", str(path), "train.lr=0"]) == 2
    assert capsys.readouterr().err.strip() == f"graphops: error: {path}: train.lr: must be > 0, got 0"
    assert main(["train", str(path), "train.nope=1"]) == 2
    err = capsys.readouterr().err
    assert "train.nope: unknown key for a fields run" in err and "epochs" in err
    assert main(["train", str(path), "train.epochs=1", "model.hidden=4", "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 0
    saved = yaml.safe_load((tmp_path / "o" / "config.yaml").read_text())
    assert saved["train"]["epochs"] == 1 and saved["model"]["hidden"] == 4 and len(_rows(tmp_path / "o")) == 1
    assert load_checkpoint(tmp_path / "o" / "last.pt")["model_config"]["hidden"] == 4


def test_train_nproc_inside_torchrun_is_refused(tmp_path, dataset, capsys, monkeypatch):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(_config(dataset, tmp_path / "out")))
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "--nproc", "2", str(path)]) == 2
    assert "--nproc cannot be used inside torchrun" in capsys.readouterr().err


def test_evaluate_corrupt_checkpoint_and_bad_families(tmp_path, dataset, capsys):
    bad = tmp_path / "best.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    assert main(["evaluate", str(bad), str(dataset)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"graphops: error: {bad}: checkpoint is corrupt, truncated or not a torch file (torch.load failed)"
    )
    with pytest.raises(SystemExit):
        main(["evaluate", str(bad), str(dataset), "--families", "0,x"])
    assert "comma-separated integers" in capsys.readouterr().err


# ----------------------------------------------------------------------------- NUNO on elasticity data


NUNO_EPOCHS = 3


@pytest.fixture(scope="module")
def elasticity(tmp_path_factory):
    """10 tiny elasticity-holes samples (about 300 points each; the data has ``g`` and ``y`` but no ``f``)."""
    out = tmp_path_factory.mktemp("data") / "elasticity"
    assert main(["generate", "--problem", "elasticity-holes", "--n", "10", "--out", str(out), "--tiny",
                 "--quiet"]) == 0
    return out


def _nuno_config(data_root, out):
    """examples/configs/nuno-elasticity.yaml, shrunk."""
    cfg = yaml.safe_load((ROOT / "examples" / "configs" / "nuno-elasticity.yaml").read_text())
    cfg["data"]["root"] = str(data_root)
    cfg["model"].update({"n_subdomains": 4, "grid_shape": 8, "n_modes": 4, "hidden": 8, "layers": 2})
    cfg["train"].update({"epochs": NUNO_EPOCHS, "batch_size": 2})
    cfg["out"] = str(out)
    return cfg


def test_nuno_config_trains_resumes_and_evaluates_on_elasticity(elasticity, tmp_path, capsys):
    from graphops.train import Trainer, load_model, load_run_config
    from graphops.train.trainer import split_run_data

    config = tmp_path / "nuno.yaml"
    config.write_text(yaml.safe_dump(_nuno_config(elasticity, tmp_path / "straight")))
    assert main(["train", str(config), "--no-progress", "--device", "cpu"]) == 0
    straight = tmp_path / "straight"
    assert f"best checkpoint: {straight / 'best.pt'}" in capsys.readouterr().out
    assert [int(r["epoch"]) for r in _rows(straight)] == list(range(1, NUNO_EPOCHS + 1))
    test = json.loads((straight / "test_metrics.json").read_text())
    assert test["model"] == "nuno" and test["overall"]["samples"] == 2  # test_fraction 0.2 of 10
    payload = load_checkpoint(straight / "last.pt")
    assert sorted(payload["normalizer"]) == ["g", "y"]  # no source field f in elasticity data
    boxes = payload["model_state"]["shared_boxes"]
    assert boxes.shape == (4, 2, 2, 2) and bool(boxes.isfinite().all())  # decomposition fitted before epoch 1

    # stop after one epoch, then `graphops train` resumes and ends where the straight run ended
    resumed = tmp_path / "resumed"
    cfg = load_run_config(_nuno_config(elasticity, resumed))
    train_set, val_set, _ = split_run_data(cfg)
    Trainer(cfg, train_set, val_set, progress=False).fit(stop_after=1)
    assert load_checkpoint(resumed / "last.pt")["epoch"] == 1
    assert main(["train", str(config), "--out", str(resumed), "--no-progress", "--device", "cpu"]) == 0
    assert [int(r["epoch"]) for r in _rows(resumed)] == list(range(1, NUNO_EPOCHS + 1))
    a, b = _weights(resumed), _weights(straight)
    assert set(a) == set(b)
    assert max(float((a[k] - b[k]).abs().max()) for k in a if a[k].numel()) < 1e-6  # FNO weights are complex
    capsys.readouterr()

    report = tmp_path / "eval.json"
    assert main(["evaluate", str(straight / "best.pt"), str(elasticity), "--json", str(report),
                 "--device", "cpu"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in table if line.split()[:1] == ["all"]] == [["all", "10"]]
    result = json.loads(report.read_text())
    assert result["model"] == "nuno" and len(result["samples"]) == 10
    assert 0 < result["overall"]["rel_l2"] < 2
    model, normalizer, _ = load_model(straight / "best.pt")
    assert torch.equal(model.shared_boxes, load_checkpoint(straight / "best.pt")["model_state"]["shared_boxes"])
