"""Training the particle models: statistics, noise injection, checkpoints, resume, rollout evaluation."""
from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from graphops.errors import ConfigError, DataError
from graphops.models.giorom import GIOROM, GNS
from graphops.solvers.mpm import simulate_trajectory
from graphops.train.checkpoint import load_checkpoint, load_model
from graphops.train.dynamics import (
    _noisy_window,
    estimate_radius,
    evaluate_rollout,
    train_dynamics,
    trajectory_statistics,
)

torch.set_num_threads(1)

GIOROM_TINY = {"name": "giorom", "hidden": 16, "layers": 2, "material_dim": 4, "num_samples": 40,
               "radius": "auto", "decoder_radius": "auto", "decoder_hidden": 8}
GNS_TINY = {"name": "gns", "hidden": 16, "layers": 2, "material_dim": 4, "radius": "auto"}


@functools.lru_cache(maxsize=None)
def _trajectories():
    return tuple(simulate_trajectory({"n_particles": 120, "materials": ["jelly"], "n_objects": 1}, seed=s,
                                     n_frames=12) for s in (0, 1))


@pytest.fixture
def trajectories():
    return list(_trajectories())


def test_statistics_of_a_constant_acceleration():
    t = np.arange(6, dtype=np.float64)[:, None, None]
    x0 = np.random.default_rng(0).random((1, 10, 2))
    pos = x0 + np.array([0.01, 0.0]) * t + np.array([0.0, -0.002]) * t**2 / 2
    stats = trajectory_statistics([{"positions": pos}])
    np.testing.assert_allclose(stats["acc_mean"], [0.0, -0.002], atol=1e-12)
    np.testing.assert_allclose(stats["acc_std"], [0.0, 0.0], atol=1e-9)
    vel = np.diff(pos, axis=0).reshape(-1, 2)
    np.testing.assert_allclose(stats["vel_mean"], vel.mean(0))
    np.testing.assert_allclose(stats["vel_std"], vel.std(0))


def test_noise_keeps_the_true_next_velocity():
    rng = np.random.default_rng(0)
    hist = torch.from_numpy(rng.random((6, 50, 2)).astype(np.float32))
    acc = torch.from_numpy(rng.random((50, 2)).astype(np.float32))
    nxt = 2 * hist[-1] - hist[-2] + acc
    noisy, target = _noisy_window({"history": hist, "acceleration": acc}, 0.01, rng)
    assert torch.equal(noisy[0], hist[0])
    assert not torch.allclose(noisy[-1], hist[-1])
    pred_next_velocity = (noisy[-1] - noisy[-2]) + target
    np.testing.assert_allclose(pred_next_velocity.numpy(), (nxt - hist[-1]).numpy(), atol=1e-5)
    # the last velocity's noise has the asked standard deviation
    big, _ = _noisy_window({"history": torch.zeros(6, 20000, 2), "acceleration": torch.zeros(20000, 2)}, 0.01, rng)
    assert (big[-1] - big[-2]).std().item() == pytest.approx(0.01, rel=0.05)


def test_estimate_radius_scales_with_the_sparse_spacing(trajectories):
    dense = estimate_radius(trajectories)
    sparse = estimate_radius(trajectories, num_samples=30)
    assert 0 < dense < sparse


def test_giorom_trains_saves_and_reloads(tmp_path, trajectories):
    ckpt = train_dynamics(GIOROM_TINY, trajectories, tmp_path / "g.pt", steps=6, seed=1, progress=False,
                          val_trajectories=trajectories[:1], rollout_steps=3)
    payload = load_checkpoint(ckpt)  # weights_only load
    assert payload["model_name"] == "giorom" and payload["epoch"] == 6
    assert isinstance(payload["model_config"]["radius"], float)
    history = payload["metrics"]["history"]  # one row per round of the training loop
    assert history and {"loss_acc", "loss_decoder"} <= set(history[-1])
    rollout = payload["metrics"]["rollout"]
    assert rollout["per_trajectory"][0]["steps"] == 3 and rollout["mse"] >= 0
    model, _, meta = load_model(ckpt)
    assert isinstance(model, GIOROM) and not model.training
    stats = trajectory_statistics(trajectories)
    assert torch.all(model.vel_std.double() >= torch.from_numpy(stats["vel_std"]) * (1 - 1e-6))
    np.testing.assert_allclose(model.acc_mean.numpy(), stats["acc_mean"], rtol=1e-5)
    assert float(model.frame_dt) == pytest.approx(0.01)
    # evaluation of the reloaded model matches the stored one
    again = evaluate_rollout(model, trajectories[:1], steps=3)
    assert again["mse"] == pytest.approx(rollout["mse"], rel=1e-5)


def test_resume_replays_an_uninterrupted_run(tmp_path, trajectories):
    full = train_dynamics(GNS_TINY, trajectories, tmp_path / "full.pt", steps=4, seed=3, progress=False)
    part = tmp_path / "part.pt"
    train_dynamics(GNS_TINY, trajectories, part, steps=4, seed=3, progress=False, stop_after=2)
    assert load_checkpoint(part)["epoch"] == 2
    train_dynamics(GNS_TINY, trajectories, part, steps=4, seed=3, progress=False, resume=True)
    a, b = load_checkpoint(full)["model_state"], load_checkpoint(part)["model_state"]
    for key in a:
        assert torch.equal(a[key], b[key]), key
    with pytest.raises(ConfigError, match=r"different config \(train.steps\)"):
        train_dynamics(GNS_TINY, trajectories, part, steps=5, seed=3, progress=False, resume=True)


def test_dense_baseline_rollout_evaluation(tmp_path, trajectories):
    ckpt = train_dynamics(GNS_TINY, trajectories, tmp_path / "d.pt", steps=3, progress=False)
    model, _, _ = load_model(ckpt)
    assert isinstance(model, GNS)
    result = evaluate_rollout(model, trajectories)
    row = result["per_trajectory"][0]
    assert row["steps"] == 12 - 5 - 1 and row["advanced_particles"] == row["particles"]
    assert result["mse"] == pytest.approx(result["mse_sparse"])


@pytest.mark.parametrize(
    "config, kwargs, kind, match",
    [
        ({"name": "beno"}, {}, ConfigError, "particle models"),
        (GNS_TINY, {"steps": 0}, ConfigError, "steps"),
        ({**GNS_TINY, "dim": 3}, {}, DataError, "3D but the trajectories are 2D"),
        ({**GNS_TINY, "num_materials": 1}, {"materials": 2}, DataError, "material ids"),
    ],
)
def test_bad_training_input(tmp_path, trajectories, config, kwargs, kind, match):
    if "materials" in kwargs:
        trajectories = [{**trajectories[0], "material": np.full_like(trajectories[0]["material"], 2)}]
        kwargs = {}
    with pytest.raises(kind, match=match):
        train_dynamics(config, trajectories, tmp_path / "x.pt", progress=False, **{"steps": 1, **kwargs})


def test_particle_runs_get_the_loops_optimizer_clipping_and_early_stopping(tmp_path, trajectories):
    ckpt = train_dynamics(GNS_TINY, trajectories, tmp_path / "s.pt", steps=6, checkpoint_every=2, progress=False,
                          val_trajectories=trajectories[:1], rollout_steps=2, optimizer="sgd", grad_clip=None,
                          patience=0)
    payload = load_checkpoint(ckpt)
    assert payload["run_config"]["train"]["optimizer"] == "sgd" and payload["run_config"]["train"]["grad_clip"] is None
    assert "momentum_buffer" in str(payload["optimizer_state"]["state"])  # SGD's state, not Adam's
    assert payload["extra"]["stopped_early"] and payload["extra"]["finished"]  # patience 0: stop at the first round
    assert payload["epoch"] == 2 and [row["step"] for row in payload["metrics"]["history"]] == [2]
    with pytest.raises(ConfigError, match="train.optimizer: must be one of adamw, adam, sgd"):
        train_dynamics(GNS_TINY, trajectories, tmp_path / "x.pt", steps=1, progress=False, optimizer="lbfgs")
