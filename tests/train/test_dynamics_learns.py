"""Particle training must learn: the loss falls and a tiny trajectory is fitted (GIOROM and dense GNS).

The trajectory is written out by hand: particles under gravity with linear drag,
``a = g - c v`` per frame, so the per-frame acceleration varies between particles
(initial velocities differ) and is a simple function of the last velocity the model
sees. A wrong training target (the acceleration mean added instead of subtracted,
a wrong scale) makes the trained rollout worse than not learning at all; a correct
one beats the constant-velocity extrapolation by a wide margin.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from graphops.train.checkpoint import load_checkpoint, load_model
from graphops.train.dynamics import evaluate_rollout, train_dynamics

torch.set_num_threads(1)

GRAVITY = np.array([0.0, -0.002])  # position units per frame^2
DRAG = 0.2  # per frame


def drag_trajectory(seed: int, frames: int = 16) -> dict:
    """``x_{t+1} = x_t + v_{t+1}``, ``v_{t+1} = v_t + GRAVITY - DRAG v_t`` for 64 particles on a jittered grid."""
    rng = np.random.default_rng(seed)
    side = np.linspace(0.35, 0.65, 8)
    x = np.stack(np.meshgrid(side, side), -1).reshape(-1, 2) + rng.normal(scale=0.005, size=(64, 2))
    v = rng.uniform(-0.01, 0.01, size=(64, 2))
    positions = [x.copy()]
    for _ in range(frames - 1):
        v = v + GRAVITY - DRAG * v
        x = x + v
        positions.append(x.copy())
    return {"positions": np.array(positions), "material": np.zeros(64, dtype=np.int64),
            "bounds": np.array([[0.0, 0.0], [1.0, 1.0]]), "frame_dt": np.float64(0.01)}


def constant_velocity_mse(traj: dict, history: int, steps: int) -> float:
    """Position MSE of extrapolating the last observed velocity (the no-learning baseline)."""
    pos = traj["positions"]
    x, v = pos[history], pos[history] - pos[history - 1]
    errors = []
    for k in range(1, steps + 1):
        x = x + v
        errors.append(((x - pos[history + k]) ** 2).sum(-1).mean())
    return float(np.mean(errors))


@pytest.mark.parametrize("config", [
    {"name": "gns", "hidden": 32, "layers": 2, "material_dim": 2, "radius": "auto"},
    {"name": "giorom", "hidden": 32, "layers": 2, "material_dim": 2, "num_samples": 48, "radius": "auto",
     "decoder_radius": "auto", "decoder_hidden": 8},
])
def test_training_lowers_the_loss_and_fits_a_tiny_trajectory(tmp_path, config):
    train_set = [drag_trajectory(s) for s in range(3)]
    ckpt = train_dynamics(config, train_set, tmp_path / "m.pt", steps=200, batch_size=4, lr=3e-3, lr_final=3e-4,
                          noise_std=1e-5, seed=0, checkpoint_every=20, progress=False)
    history = load_checkpoint(ckpt)["metrics"]["history"]
    assert history[-1]["loss_acc"] < 0.1 * history[0]["loss_acc"], history
    model, _, _ = load_model(ckpt)
    steps = 6
    test = drag_trajectory(7)
    baseline = constant_velocity_mse(test, model.history, steps)
    result = evaluate_rollout(model, [test], steps=steps)
    # the stepper's own particles: near exact (the flipped-mean bug gives about 1.2x the baseline)
    assert result["mse_sparse"] < 0.01 * baseline, (result, baseline)
    # every particle (GIOROM: through the kernel decoder, which interpolates between samples)
    assert result["mse"] < (0.01 if config["name"] == "gns" else 0.3) * baseline, (result, baseline)
