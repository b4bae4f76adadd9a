"""Particle dynamics from the command line: generate trajectories, train giorom, resume, evaluate, roll out."""
from __future__ import annotations

import json
from pathlib import Path

import meshio
import numpy as np
import pytest
import torch
import yaml

from graphops.cli import main
from graphops.data.trajectories import TrajectoryDataset
from graphops.io import write_mesh
from graphops.mesh import Mesh
from graphops.train.checkpoint import load_checkpoint
from graphops.train.config import read_config_file, validate_dynamics_config
from graphops.train.dynamics import split_trajectories, train_dynamics

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "configs" / "giorom-jelly.yaml"
STEPS = 6


def _config(data, out, **train):
    cfg = {
        "data": {"root": str(data), "val_fraction": 0.34},
        "model": {"name": "giorom", "hidden": 16, "layers": 2, "material_dim": 4, "num_samples": 50,
                  "radius": "auto", "decoder_radius": "auto", "decoder_hidden": 8},
        "train": {"steps": STEPS, "batch_size": 2, "lr": 1.0e-3, "seed": 0, "checkpoint_every": 4},
        "out": str(out),
    }
    cfg["train"].update(train)
    return cfg


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """6 tiny jelly trajectories (200 particles, 12 frames) made by ``graphops generate``."""
    out = tmp_path_factory.mktemp("traj") / "jelly"
    code = main(["generate", "--problem", "mpm-trajectories", "--n", "6", "--out", str(out), "--tiny",
                 "--workers", "2", "--seed", "3", "--shard-size", "4", "--frames", "12", "--materials", "jelly",
                 "--quiet"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory, dataset):
    """``graphops train`` on a tiny giorom config: (config path, out folder)."""
    folder = tmp_path_factory.mktemp("run")
    config = folder / "giorom.yaml"
    config.write_text(yaml.safe_dump(_config(dataset, folder / "out")))
    assert main(["train", str(config), "--no-progress"]) == 0
    return config, folder / "out"


def test_generate_writes_a_trajectory_dataset(dataset):
    data = TrajectoryDataset(dataset)
    manifest = data.manifest
    assert len(data) == 6 and manifest["num_shards"] == 2 and manifest["seed"] == 3
    assert manifest["config"]["n_frames"] == 12 and manifest["config"]["scene"]["materials"] == ["jelly"]
    traj = data[5]
    assert traj["positions"].shape[0] == 12 and traj["positions"].shape[2] == 2
    assert np.isfinite(traj["positions"]).all() and set(np.unique(traj["material"])) == {0}


def test_train_writes_config_checkpoint_and_metrics(trained, capsys):
    _, out = trained
    for name in ("config.yaml", "model.pt", "metrics.json"):
        assert (out / name).is_file(), name
    payload = load_checkpoint(out / "model.pt")
    assert payload["model_name"] == "giorom" and payload["epoch"] == STEPS
    assert isinstance(payload["model_config"]["radius"], float)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_trajectories"] == [0, 1, 2, 3] and metrics["val_trajectories"] == [4, 5]
    assert metrics["val_rollout_mse"] == pytest.approx(payload["metrics"]["rollout"]["mse"])
    assert metrics["val_rollout_mse"] > 0 and len(metrics["rollout"]["per_trajectory"]) == 2
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["train"]["lr_final"] == 1.0e-4 and saved["model"]["radius"] == "auto"


def test_running_again_does_no_work(trained, capsys):
    config, out = trained
    before = (out / "model.pt").stat().st_mtime_ns
    state = load_checkpoint(out / "model.pt")["model_state"]
    assert main(["train", str(config), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"checkpoint: {out / 'model.pt'}" in printed and "validation rollout MSE (2 trajectories" in printed
    assert (out / "model.pt").stat().st_mtime_ns == before
    again = load_checkpoint(out / "model.pt")["model_state"]
    assert all(torch.equal(state[k], again[k]) for k in state)


def test_an_interrupted_run_resumes_to_the_uninterrupted_weights(trained, dataset, tmp_path):
    config, out = trained
    part = tmp_path / "out" / "model.pt"
    cfg = _config(dataset, tmp_path / "out")
    train_dynamics(cfg["model"], TrajectoryDataset(dataset, [0, 1, 2, 3]), part, steps=STEPS, batch_size=2,
                   seed=0, checkpoint_every=4, progress=False, stop_after=4)  # what a kill after step 4 leaves
    assert load_checkpoint(part)["epoch"] == 4
    assert main(["train", str(config), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    a, b = load_checkpoint(out / "model.pt")["model_state"], load_checkpoint(part)["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["steps"] == STEPS


def test_evaluate_rolls_out_on_the_trajectories(trained, dataset, tmp_path, capsys):
    _, out = trained
    report = tmp_path / "eval.json"
    assert main(["evaluate", str(out / "model.pt"), str(dataset), "--steps", "4", "--json", str(report),
                 "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"giorom (step {STEPS}) rolled out on")
    assert lines[1].split() == ["objects", "trajectories", "rollout", "MSE", "last-frame", "MSE"]
    assert lines[-2].split()[:2] == ["all", "6"]
    result = json.loads(report.read_text())
    assert [row["index"] for row in result["trajectories"]] == list(range(6))
    assert all(row["steps"] == 4 for row in result["trajectories"])
    assert sum(f["trajectories"] for f in result["families"].values()) == 6


def test_rollout_from_a_dataset_frame(trained, dataset, tmp_path, capsys):
    _, out = trained
    traj = TrajectoryDataset(dataset)[4]
    initial = tmp_path / "initial.vtu"
    write_mesh(initial, Mesh(traj["positions"][5].astype(np.float64), {}),
               point_data={"velocity": traj["velocities"][5].astype(np.float64), "material": traj["material"]})
    assert main(["rollout", str(out / "model.pt"), str(initial), "--steps", "3", "-o", str(tmp_path / "roll"),
                 "--no-animation", "--quiet"]) == 0
    assert f"giorom: 3 steps of {traj['positions'].shape[1]} points" in capsys.readouterr().out
    last = meshio.read(tmp_path / "roll" / "frame_0003.vtu")
    assert np.isfinite(last.points).all() and int(last.point_data["sparse_particle"].sum()) == 50


def test_the_shipped_example_config_is_valid_and_trains(dataset, tmp_path):
    cfg = validate_dynamics_config(read_config_file(EXAMPLE), EXAMPLE)
    assert cfg["model"]["name"] == "giorom" and cfg["train"]["steps"] >= 500
    assert split_trajectories(24, cfg["data"]) == (list(range(20)), list(range(20, 24)))
    cfg["data"]["root"] = str(dataset)
    cfg["train"].update(steps=2, rollout_steps=2)
    config = tmp_path / "example.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(config), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    assert load_checkpoint(tmp_path / "out" / "model.pt")["model_config"]["num_samples"] == 256


def test_explicit_indices_and_no_validation():
    assert split_trajectories(5, {"train_indices": [0, 2], "val_indices": None}) == ([0, 2], [1, 3, 4])
    assert split_trajectories(5, {"val_indices": [1]}) == ([0, 2, 3, 4], [1])
    assert split_trajectories(5, {"val_fraction": 0.0}) == ([0, 1, 2, 3, 4], [])
    assert split_trajectories(1, {"val_fraction": 0.5}) == ([0], [])


def _expect_error(capsys, args, *fragments):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("graphops: error:") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err


@pytest.mark.parametrize(
    "edit, fragments",
    [
        (lambda c: c["train"].update(steps="ten"), ["bad.yaml: train.steps: must be an integer, got 'ten'"]),
        (lambda c: c["train"].update(epochs=3), ["train.epochs: unknown key (allowed:", "steps"]),
        (lambda c: c["model"].update(hiden=3), ["model.hiden: unknown key for model 'giorom'"]),
        (lambda c: c["model"].update(hidden=-1), ["model: model 'giorom': hidden must be a positive integer"]),
        (lambda c: c["data"].update(val_indices=[4, 4]), ["data.val_indices: holds a trajectory more than once"]),
        (lambda c: c["data"].update(train_indices=[0, 1], val_indices=[1]), ["trajectory 1 is also in"]),
        (lambda c: c["data"].update(train_indices=[0, 9]), ["trajectory index 9 out of range"]),
        (lambda c: c["train"].update(device="cuda"), ["train.device: the particle models train on the CPU"]),
        (lambda c: c["data"].update(root="nowhere"), ["nowhere"]),
    ],
)
def test_bad_configs_exit_2_with_one_line(dataset, tmp_path, capsys, edit, fragments):
    cfg = _config(dataset, tmp_path / "out")
    edit(cfg)
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(cfg))
    _expect_error(capsys, ["train", str(config), "--no-progress"], *fragments)
    assert not (tmp_path / "out" / "model.pt").exists()


def test_a_changed_config_is_refused_in_a_used_out_folder(trained, tmp_path, capsys):
    config, out = trained
    cfg = yaml.safe_load(config.read_text())
    cfg["train"]["steps"] = STEPS + 1
    cfg["train"]["checkpoint_every"] = 2  # runtime-only: not a difference
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    _expect_error(capsys, ["train", str(changed)], "holds a run with a different config (train.steps)")
    _expect_error(capsys, ["train", str(config), "--nproc", "2"], "train in one process")


def test_generate_refuses_options_of_the_other_kind(tmp_path, capsys):
    base = ["generate", "--n", "2", "--out", str(tmp_path / "d"), "--quiet"]
    _expect_error(capsys, base + ["--problem", "mpm-trajectories", "--cutouts", "4"],
                  "--cutouts is an option of the PDE problems, not of --problem mpm-trajectories")
    _expect_error(capsys, base + ["--problem", "poisson-dirichlet", "--frames", "10"],
                  "--frames is an option of --problem mpm-trajectories")
    _expect_error(capsys, base + ["--problem", "mpm-trajectories", "--materials", "jelly,honey"], "honey")
    assert not (tmp_path / "d").exists()


def test_mesh_and_particle_checkpoints_meet_the_wrong_dataset(trained, dataset, tmp_path, capsys):
    from graphops.data import generate_dataset
    from graphops.models import build_model
    from graphops.train.checkpoint import save_checkpoint

    _, out = trained
    mesh_data = generate_dataset("poisson-dirichlet", 1, tmp_path / "pd", tiny=True, progress=False)
    _expect_error(capsys, ["evaluate", str(out / "model.pt"), str(mesh_data)],
                  "giorom is a particle-dynamics model: evaluate it on a trajectory dataset")
    gno = save_checkpoint(tmp_path / "gno.pt", build_model({"name": "gno", "hidden": 4}))
    _expect_error(capsys, ["evaluate", str(gno), str(dataset)],
                  "gno.pt: checkpoint holds a 'gno' model; a trajectory dataset needs a particle dynamics model")
