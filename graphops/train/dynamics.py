"""Training and evaluating the particle-dynamics models (``giorom``, ``gns``).

One training step (GNS recipe, Sanchez-Gonzalez et al. 2020, re-implemented):

1. draw ``batch_size`` windows (velocity history of ``C`` frames + next
   acceleration) from :class:`graphops.data.trajectories.TrajectoryWindows`;
2. add random-walk noise to the history: per-frame velocity noise
   ``e_k = sum_{i<=k} n_i``, ``n_i ~ N(0, sigma^2 / C)`` (so the last velocity is
   off by ``sigma``), positions integrate it; the target acceleration becomes
   ``a - e_C``, i.e. the model learns to return to the true next velocity;
3. loss = MSE of the normalised acceleration, ``(a - acc_mean) / acc_std``, with
   statistics over all training particles and frames (noise added in
   quadrature, as in GNS);
4. for ``giorom`` also the decoder loss: the kernel integral of the true sparse
   displacements ``x_j^t - x_j^0`` at the dense particles' frame-0 positions
   against their true displacements, mean squared error over the RMS
   displacement squared, at a random frame ``t`` of the window's trajectory.

Everything random comes from ``numpy.random.default_rng([seed, step])`` and a
seeded torch generator, so a run is reproducible and a resumed run replays the
same steps. The checkpoint (:func:`graphops.train.checkpoint.save_checkpoint`)
holds the model config, the weights and, as buffers of the model, the
normaliser statistics (``vel_mean``, ``vel_std``, ``acc_mean``, ``acc_std``),
the wall box, ``frame_dt`` and the default material; it loads with
``torch.load(weights_only=True)`` via :func:`graphops.train.checkpoint.load_model`.

From a run config (what ``graphops train CONFIG`` does for ``model.name`` giorom
or gns): :func:`train_dynamics_from_config` splits a trajectory dataset, trains,
and writes ``OUT/config.yaml``, ``OUT/model.pt`` and ``OUT/metrics.json``;
:func:`evaluate_dynamics` is ``graphops evaluate`` on a trajectory dataset.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, DataError
from ..models.giorom import GIOROM, ParticleStepper
from .checkpoint import load_checkpoint, save_checkpoint, set_rng_state
from .config import DYNAMICS_MODEL_NAMES
from .trainer import seed_everything

PathLike = Union[str, "os.PathLike[str]"]

DYNAMICS_MODELS = DYNAMICS_MODEL_NAMES


def _positions(traj: Mapping[str, Any]) -> np.ndarray:
    return np.asarray(traj["positions"], dtype=np.float64)


def trajectory_statistics(trajectories: Sequence[Mapping[str, Any]]) -> Dict[str, np.ndarray]:
    """Per-axis mean and std of per-frame velocities and accelerations over all particles and frames.

    Parameters
    ----------
    trajectories : sequence of dicts with ``positions`` (F, P, d)

    Returns
    -------
    dict
        ``vel_mean``, ``vel_std``, ``acc_mean``, ``acc_std`` (d,) and
        ``disp_rms`` (float): RMS of the displacement from frame 0.
    """
    # per-trajectory mean and sum of squared deviations, merged with Chan et al.'s update (no cancellation)
    moments: Dict[str, list] = {"vel": [0, 0.0, 0.0], "acc": [0, 0.0, 0.0]}
    disp_n, disp_sq = 0, 0.0
    for i in range(len(trajectories)):
        pos = _positions(trajectories[i])
        d = pos.shape[2]
        for key, values in (("vel", np.diff(pos, axis=0)), ("acc", np.diff(pos, 2, axis=0))):
            flat = values.reshape(-1, d)
            if not len(flat):
                continue
            n_b, mean_b = len(flat), flat.mean(0)
            m2_b = ((flat - mean_b) ** 2).sum(0)
            n_a, mean_a, m2_a = moments[key]
            n = n_a + n_b
            delta = mean_b - mean_a
            moments[key] = [n, mean_a + delta * n_b / n, m2_a + m2_b + delta**2 * n_a * n_b / n]
        disp = (pos - pos[:1]).reshape(-1, d)
        disp_n, disp_sq = disp_n + len(disp), disp_sq + float((disp**2).sum())
    if moments["acc"][0] == 0:
        raise DataError("no trajectories (of at least 3 frames) to compute statistics from")
    vel_mean, acc_mean = np.asarray(moments["vel"][1], float), np.asarray(moments["acc"][1], float)
    vel_std = np.sqrt(moments["vel"][2] / moments["vel"][0])
    acc_std = np.sqrt(moments["acc"][2] / moments["acc"][0])
    return {"vel_mean": vel_mean, "vel_std": vel_std, "acc_mean": acc_mean, "acc_std": acc_std,
            "disp_rms": float(np.sqrt(disp_sq / disp_n))}


def estimate_radius(trajectories: Sequence[Mapping[str, Any]], num_samples: Optional[int] = None,
                    factor: float = 2.5, fps_backend: str = "auto") -> float:
    """A connectivity radius: ``factor`` x the median nearest-neighbour spacing at frame 0.

    Parameters
    ----------
    trajectories : sequence of dicts with ``positions`` (F, P, d)
    num_samples : int, optional
        Measure the spacing of this many farthest-point samples (the sparse graph).
    factor : float
        About 2.5 gives ~20 neighbours in 2D.

    Returns
    -------
    float
    """
    from ..sampling import farthest_point_sampling, spacing

    values = []
    for i in range(len(trajectories)):
        pos0 = _positions(trajectories[i])[0]
        idx = None
        if num_samples is not None and num_samples < len(pos0):
            idx = farthest_point_sampling(pos0, num_samples, backend=fps_backend)
        values.append(spacing(pos0, idx))
    if not values or not np.isfinite(values).all() or max(values) <= 0:
        raise DataError("cannot estimate a connectivity radius from these trajectories")
    return float(factor * np.median(values))


def _noisy_window(window: Dict[str, Any], noise_std: float, rng: np.random.Generator):
    """Random-walk noise on a window's history; returns (noisy history, adjusted acceleration)."""
    hist, acc = window["history"], window["acceleration"]
    if noise_std <= 0:
        return hist, acc
    c = hist.shape[0] - 1
    steps = rng.normal(0.0, noise_std / math.sqrt(c), size=(c,) + tuple(hist.shape[1:]))
    vel_noise = np.cumsum(steps, axis=0)
    pos_noise = np.concatenate([np.zeros((1,) + tuple(hist.shape[1:])), np.cumsum(vel_noise, axis=0)])
    noisy = hist + torch.from_numpy(pos_noise.astype(np.float32))
    return noisy, acc - torch.from_numpy(vel_noise[-1].astype(np.float32))


def _batch(model: ParticleStepper, windows: Sequence[Dict[str, Any]], noise_std: float, rng: np.random.Generator):
    """Disjoint union of windows: history (C+1, N, d), material, per-node bounds (2, N, d), edges, target."""
    hists, mats, bounds, edges, targets = [], [], [], [], []
    offset = 0
    for w in windows:
        hist, acc = _noisy_window(w, noise_std, rng)
        n = hist.shape[1]
        hists.append(hist)
        mats.append(w["material"])
        bounds.append(w["bounds"][:, None, :].expand(2, n, -1))
        edges.append(model.build_edges(hist[-1]) + offset)
        targets.append(acc)
        offset += n
    return (torch.cat(hists, 1), torch.cat(mats), torch.cat(bounds, 1), torch.cat(edges, 1), torch.cat(targets))


class _DecoderCache:
    """Per-trajectory decoder neighbours of the dense frame-0 particles (they never change)."""

    def __init__(self, model: GIOROM, windows) -> None:
        self.model, self.windows = model, windows
        self._cache: Dict[int, tuple] = {}

    def get(self, i: int):
        if i not in self._cache:
            traj = self.windows.trajectory(i)
            pos = np.asarray(traj["positions"], dtype=np.float32)
            idx = self.windows.sparse_index(i)
            ref = torch.from_numpy(pos[0][idx])
            dense0 = torch.from_numpy(pos[0])
            edges, scale = self.model.decoder.neighbours_of(ref, dense0)
            mat = torch.from_numpy(np.asarray(traj["material"])[idx].astype(np.int64))
            self._cache[i] = (pos, idx, ref, dense0, mat, edges, scale)
        return self._cache[i]


def _decoder_loss(model: GIOROM, cache: _DecoderCache, traj_ids: Sequence[int], rng: np.random.Generator,
                  max_queries: int, disp_rms: float) -> torch.Tensor:
    losses = []
    for i in traj_ids:
        pos, idx, ref, dense0, mat, edges, scale = cache.get(i)
        t = int(rng.integers(1, pos.shape[0]))
        frame = torch.from_numpy(pos[t])
        disp_sparse = frame[idx] - ref
        truth = frame - dense0
        n = dense0.shape[0]
        if n > max_queries:
            keep = np.sort(rng.choice(n, size=max_queries, replace=False))
            remap = np.full(n, -1, dtype=np.int64)
            remap[keep] = np.arange(len(keep))
            tgt = remap[edges[1].numpy()]
            mask = torch.from_numpy(tgt >= 0)
            sub_edges = torch.stack([edges[0][mask], torch.from_numpy(tgt)[mask]])
            queries, sub_scale, truth = dense0[keep], scale[keep], truth[keep]
        else:
            queries, sub_edges, sub_scale = dense0, edges, scale
        pred = model.decoder(ref, mat, disp_sparse, queries, edge_index=sub_edges, scale=sub_scale)
        losses.append(((pred - truth) ** 2).sum(dim=1).mean() / max(disp_rms, 1e-12) ** 2)
    return torch.stack(losses).mean()


def _check_config(model_config: Mapping[str, Any]) -> Dict[str, Any]:
    if not isinstance(model_config, Mapping) or model_config.get("name") not in DYNAMICS_MODELS:
        shown = dict(model_config) if isinstance(model_config, Mapping) else model_config
        raise ConfigError(f"train_dynamics trains the particle models {', '.join(DYNAMICS_MODELS)}; "
                          f"got model config {shown!r}")
    return dict(model_config)


def train_dynamics(
    model_config: Mapping[str, Any],
    trajectories,
    out: PathLike,
    steps: int = 1000,
    batch_size: int = 2,
    lr: float = 1e-3,
    lr_final: float = 1e-4,
    noise_std: Optional[float] = None,
    decoder_weight: float = 1.0,
    decoder_queries: int = 4096,
    radius_factor: float = 2.5,
    seed: int = 0,
    checkpoint_every: int = 0,
    resume: bool = False,
    val_trajectories=None,
    rollout_steps: Optional[int] = None,
    progress: bool = True,
    stop_after: Optional[int] = None,
) -> Path:
    """Train a ``giorom`` or ``gns`` model on particle trajectories; write a checkpoint.

    Parameters
    ----------
    model_config : mapping
        ``{"name": "giorom" | "gns", ...}``; ``"radius": "auto"`` (and
        ``"decoder_radius": "auto"``) are replaced by :func:`estimate_radius`
        with ``radius_factor`` (of the sparse samples for giorom).
    trajectories : TrajectoryDataset or sequence of dicts
        Training trajectories (``positions`` (F, P, d), ``material``, ``bounds``, ``frame_dt``).
    out : path-like
        Checkpoint file to write (``.pt``).
    steps : int
        Optimiser steps.
    batch_size : int
        Windows per step.
    lr, lr_final : float
        Adam learning rate, decayed exponentially to ``lr_final`` at the last step.
    noise_std : float, optional
        Random-walk noise on the last input velocity (position units per frame);
        default: the RMS acceleration of the data.
    decoder_weight : float
        Weight of the decoder loss (giorom).
    decoder_queries : int
        Dense particles per trajectory the decoder loss uses per step (random subset).
    seed : int
    checkpoint_every : int
        Also write ``out`` every this many steps (0: only at the end).
    resume : bool
        Continue from ``out`` when it exists (same config), replaying the same random draws;
        a finished run is returned as it is.
    val_trajectories : optional
        Trajectories for the final rollout evaluation (metrics stored in the checkpoint).
    rollout_steps : int, optional
        Length of that evaluation (default: to the end of each trajectory).
    progress : bool
    stop_after : int, optional
        Save and return after this many steps in total (simulates an interruption;
        ``resume=True`` continues exactly).

    Returns
    -------
    Path
        ``out``.
    """
    from tqdm.auto import tqdm

    from ..data.trajectories import TrajectoryWindows, _check_trajectory
    from ..models import build_model

    config = _check_config(model_config)
    for key, value in (("steps", steps), ("batch_size", batch_size), ("decoder_queries", decoder_queries)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{key} must be a positive integer, got {value!r}")
    for key, value in (("lr", lr), ("lr_final", lr_final)):
        if not isinstance(value, (int, float)) or not value > 0:
            raise ConfigError(f"{key} must be a positive number, got {value!r}")
    if len(trajectories) == 0:
        raise DataError("no training trajectories")
    for i, traj in enumerate(trajectories):  # name a bad trajectory before its NaN reaches the statistics
        _check_trajectory(traj, i)
    seed_everything(seed)
    stats = trajectory_statistics(trajectories)
    if noise_std is None:
        noise_std = float(np.sqrt((stats["acc_std"] ** 2 + stats["acc_mean"] ** 2).mean()))
    num_samples = config.get("num_samples", 1024) if config["name"] == "giorom" else None
    fps_backend = config.get("fps_backend", "auto")
    if config.get("radius") == "auto":
        config["radius"] = estimate_radius(trajectories, num_samples, radius_factor, fps_backend)
    if config.get("decoder_radius") == "auto":
        config["decoder_radius"] = estimate_radius(trajectories, num_samples, radius_factor, fps_backend)
    model = build_model(config)
    first = trajectories[0]
    dim = int(np.asarray(first["positions"]).shape[2])
    if dim != model.dim:
        raise DataError(f"the model is {model.dim}D but the trajectories are {dim}D")
    materials = np.concatenate([np.asarray(trajectories[i]["material"]) for i in range(len(trajectories))])
    if materials.min() < 0 or materials.max() >= model.num_materials:
        raise DataError(f"material ids {materials.min()}..{materials.max()} exceed the model's "
                        f"num_materials={model.num_materials}")
    bounds = np.stack([np.asarray(trajectories[i]["bounds"]) for i in range(len(trajectories))])
    domain = np.stack([bounds[:, 0].min(0), bounds[:, 1].max(0)])
    model.set_statistics(stats["vel_mean"], np.maximum(np.sqrt(stats["vel_std"] ** 2 + noise_std**2), 1e-9),
                         stats["acc_mean"], np.maximum(np.sqrt(stats["acc_std"] ** 2 + noise_std**2), 1e-9))
    model.set_domain(domain, float(np.asarray(first.get("frame_dt", 1.0))), int(np.bincount(materials).argmax()))

    windows = TrajectoryWindows(trajectories, history=model.history, num_samples=num_samples,
                                fps_backend=fps_backend)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    gamma = (lr_final / lr) ** (1.0 / max(steps, 1))
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)
    decoder_cache = _DecoderCache(model, windows) if isinstance(model, GIOROM) else None
    run_config = {"model": config, "steps": int(steps), "batch_size": int(batch_size), "lr": float(lr),
                  "lr_final": float(lr_final), "noise_std": float(noise_std), "decoder_weight": float(decoder_weight),
                  "decoder_queries": int(decoder_queries), "seed": int(seed), "num_trajectories": len(trajectories)}
    out = Path(out).expanduser()
    start_step, history = 0, []
    if resume and out.exists():
        payload = load_checkpoint(out)
        if payload.get("run_config") != run_config:
            raise ConfigError("the checkpoint to resume was trained with another configuration", out)
        model.load_state_dict(payload["model_state"])
        optimizer.load_state_dict(payload["optimizer_state"])
        scheduler.load_state_dict(payload["scheduler_state"])
        start_step = int(payload["epoch"])
        history = list(payload.get("extra", {}).get("loss_history", []))
        if payload.get("rng_state"):
            set_rng_state(payload["rng_state"])
        if start_step >= steps:  # a finished run: nothing left to do
            return out

    def save(step: int, metrics: Dict[str, Any]) -> None:
        save_checkpoint(out, model, optimizer, scheduler, epoch=step, metrics=metrics, run_config=run_config,
                        extra={"kind": "particle-dynamics", "loss_history": history, "disp_rms": stats["disp_rms"]})

    model.train()
    started = time.perf_counter()
    bar = tqdm(range(start_step, steps), desc=f"train {config['name']}", unit="step", disable=not progress)
    for step in bar:
        rng = np.random.default_rng([int(seed), int(step)])
        picks = rng.integers(0, len(windows), size=batch_size)
        batch_windows = [windows[int(k)] for k in picks]
        hist, mat, bnd, edges, target = _batch(model, batch_windows, noise_std, rng)
        pred = model(hist, mat, bnd, edge_index=edges)
        loss_acc = ((pred - (target - model.acc_mean) / model.acc_std) ** 2).mean()
        loss = loss_acc
        loss_dec = None
        if decoder_cache is not None and decoder_weight > 0:
            loss_dec = _decoder_loss(model, decoder_cache, [w["trajectory"] for w in batch_windows], rng,
                                     decoder_queries, stats["disp_rms"])
            loss = loss + decoder_weight * loss_dec
        if not torch.isfinite(loss):
            where = ", ".join(f"({w['trajectory']}, {w['frame']})" for w in batch_windows[:8])
            raise DataError(f"training loss became {float(loss.detach())} at step {step}; batch windows "
                            f"(trajectory, frame): {where}{' ...' if len(batch_windows) > 8 else ''} "
                            "(lower the learning rate?)")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        scheduler.step()
        record = {"step": step + 1, "loss_acc": float(loss_acc.detach())}
        if loss_dec is not None:
            record["loss_decoder"] = float(loss_dec.detach())
        if (step + 1) % 10 == 0 or step + 1 == steps:
            history.append(record)
        bar.set_postfix({k: f"{v:.3g}" for k, v in record.items() if k != "step"})
        if stop_after is not None and step + 1 >= stop_after and step + 1 < steps:
            bar.close()
            save(step + 1, {"train_seconds": time.perf_counter() - started, "stopped": True})
            return out
        if checkpoint_every and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            save(step + 1, {"train_seconds": time.perf_counter() - started})
    bar.close()
    model.eval()
    metrics: Dict[str, Any] = {"train_seconds": time.perf_counter() - started, "noise_std": float(noise_std),
                               "final_loss_acc": history[-1]["loss_acc"] if history else None}
    if val_trajectories is not None and len(val_trajectories):
        metrics["rollout"] = evaluate_rollout(model, val_trajectories, steps=rollout_steps, progress=progress)
    save(steps, metrics)
    return out


def evaluate_rollout(model: ParticleStepper, trajectories, steps: Optional[int] = None,
                     progress: bool = False) -> Dict[str, Any]:
    """Roll a model out from the first ``C + 1`` frames of each trajectory and compare.

    Parameters
    ----------
    model : GIOROM or GNS
    trajectories : sequence of dicts with ``positions`` (F, P, d), ``material``, ``bounds``
    steps : int, optional
        Frames to predict (default: up to the end, ``F - C - 1``).
    progress : bool

    Returns
    -------
    dict
        ``mse`` (mean over trajectories of the position MSE over all particles,
        predicted frames and axes), ``mse_sparse`` (the advanced particles only),
        ``mse_last`` (last frame), ``seconds_per_step`` (stepper only) and
        ``decode_seconds`` (giorom: dense decoding of the whole rollout), and
        ``per_trajectory`` lists.
    """
    c = model.history
    rows = []
    for i in range(len(trajectories)):
        traj = trajectories[i]
        pos = np.asarray(traj["positions"], dtype=np.float32)
        n = pos.shape[0] - c - 1 if steps is None else min(int(steps), pos.shape[0] - c - 1)
        if n < 1:
            raise DataError(f"trajectory {i} is too short for a rollout after {c + 1} frames")
        hist, mat, bnd = model.check_inputs(pos[: c + 1], traj["material"], traj["bounds"])
        idx = model.select_particles(hist[-1])
        t0 = time.perf_counter()
        sparse = model.advance(hist[:, idx], mat[idx], bnd, n, progress=progress)
        t1 = time.perf_counter()
        sparse = torch.cat([hist[-1:, idx], sparse])
        out = model.dense_output(hist[-1], mat, idx, sparse, None)
        t2 = time.perf_counter()
        truth = torch.from_numpy(pos[c : c + n + 1]).to(hist.device)
        err = (out["positions"][1:] - truth[1:]) ** 2
        err_sparse = (sparse[1:] - truth[1:, idx]) ** 2
        rows.append({"mse": float(err.mean()), "mse_sparse": float(err_sparse.mean()),
                     "mse_last": float(err[-1].mean()), "seconds_per_step": (t1 - t0) / n,
                     "decode_seconds": t2 - t1, "steps": n, "particles": int(pos.shape[1]),
                     "advanced_particles": int(len(idx))})
    keys = ("mse", "mse_sparse", "mse_last", "seconds_per_step", "decode_seconds")
    summary: Dict[str, Any] = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    summary["per_trajectory"] = rows
    return summary


# ------------------------------------------------------------------ run configs (graphops train / evaluate)
#: Files of a particle-dynamics run's ``out`` folder, besides ``config.yaml``.
CHECKPOINT_NAME = "model.pt"
METRICS_NAME = "metrics.json"


def split_trajectories(n: int, data: Mapping[str, Any]) -> Tuple[List[int], List[int]]:
    """Training and validation trajectory indices of a dataset of ``n`` trajectories.

    Parameters
    ----------
    n : int
        Trajectories in the dataset.
    data : mapping
        The ``data`` section of a run config: explicit ``train_indices`` /
        ``val_indices`` (a missing one is every other trajectory), else the last
        ``round(val_fraction * n)`` trajectories validate (at least one when
        ``val_fraction > 0`` and ``n > 1``).

    Returns
    -------
    train, val : list of int

    Raises
    ------
    DataError
        An index out of range, or no training trajectory left.
    """
    train, val = data.get("train_indices"), data.get("val_indices")
    if train is None and val is None:
        fraction = float(data.get("val_fraction") or 0.0)
        k = min(max(int(round(fraction * n)), 1), n - 1) if fraction > 0 and n > 1 else 0
        train, val = list(range(n - k)), list(range(n - k, n))
    elif train is None:
        train = [i for i in range(n) if i not in set(val)]
    elif val is None:
        val = [i for i in range(n) if i not in set(train)]
    bad = [i for i in list(train) + list(val) if not 0 <= i < n]
    if bad:
        raise DataError(f"trajectory index {bad[0]} out of range: the dataset has {n} (0..{n - 1})")
    if not train:
        raise DataError(f"no training trajectories: all {n} are used for validation")
    return [int(i) for i in train], [int(i) for i in val]


def _finished_metrics(checkpoint: Path, train_idx: List[int], val_idx: List[int]) -> Dict[str, Any]:
    """The ``metrics.json`` summary of a finished run, from its checkpoint."""
    payload = load_checkpoint(checkpoint)
    metrics = payload.get("metrics") or {}
    rollout = metrics.get("rollout")
    return {
        "model": payload.get("model_name"),
        "steps": int(payload.get("epoch") or 0),
        "checkpoint": checkpoint.name,
        "train_trajectories": train_idx,
        "val_trajectories": val_idx,
        "val_rollout_mse": rollout["mse"] if rollout else None,
        "val_rollout_mse_last": rollout["mse_last"] if rollout else None,
        "train_seconds": metrics.get("train_seconds"),
        "noise_std": metrics.get("noise_std"),
        "final_loss_acc": metrics.get("final_loss_acc"),
        "loss_history": (payload.get("extra") or {}).get("loss_history", []),
        "rollout": rollout,
    }


def train_dynamics_from_config(config: Union[PathLike, Mapping[str, Any]],
                               progress: Optional[bool] = None) -> Path:
    """Train a ``giorom`` / ``gns`` model as a run config describes (``graphops train CONFIG``).

    Writes ``OUT/config.yaml``, ``OUT/model.pt`` (every ``train.checkpoint_every``
    steps and at the end; load it with :func:`graphops.train.checkpoint.load_model`
    or roll it out with ``graphops rollout``) and ``OUT/metrics.json`` (the
    validation rollout MSE ``val_rollout_mse``, per-trajectory errors, the loss
    history). Running it again resumes an interrupted run exactly and returns a
    finished one without training; an ``OUT`` holding a run of another config is refused.

    Parameters
    ----------
    config : path-like or mapping
        A YAML file or a dict, see :func:`graphops.train.config.validate_dynamics_config`.
    progress : bool, optional
        tqdm bars (default: when stderr is a terminal).

    Returns
    -------
    Path
        ``OUT/model.pt``.

    Raises
    ------
    ConfigError, DataError, CheckpointError
    """
    import sys

    from ..data.trajectories import TrajectoryDataset
    from ..utils.atomic import atomic_write
    from .config import dump_run_config, dynamics_config_differences, read_config_file, validate_dynamics_config

    if isinstance(config, Mapping):
        cfg = validate_dynamics_config(config)
    else:
        cfg = validate_dynamics_config(read_config_file(config), Path(config).expanduser())
    out = Path(cfg["out"]).expanduser()
    checkpoint, saved = out / CHECKPOINT_NAME, out / "config.yaml"
    if checkpoint.exists() and saved.exists():
        diffs = dynamics_config_differences(read_config_file(saved), cfg)
        if diffs:
            shown = ", ".join(diffs[:5]) + (" ..." if len(diffs) > 5 else "")
            raise ConfigError(f"out folder {out} holds a run with a different config ({shown}); "
                              "use a new out folder, or restore the old config to resume it")
    root = cfg["data"]["root"]
    dataset = TrajectoryDataset(root)
    train_idx, val_idx = split_trajectories(len(dataset), cfg["data"])
    shards = max(1, len(dataset.manifest.get("shards", [])))
    train_set = TrajectoryDataset(root, train_idx, cache_size=shards)  # windows are drawn from every shard
    val_set = TrajectoryDataset(root, val_idx) if val_idx else None
    out.mkdir(parents=True, exist_ok=True)
    dump_run_config(cfg, saved)
    t = cfg["train"]
    show = sys.stderr.isatty() if progress is None else bool(progress)
    train_dynamics(cfg["model"], train_set, checkpoint, steps=t["steps"], batch_size=t["batch_size"], lr=t["lr"],
                   lr_final=t["lr_final"], noise_std=t["noise_std"], decoder_weight=t["decoder_weight"],
                   decoder_queries=t["decoder_queries"], radius_factor=t["radius_factor"], seed=t["seed"],
                   checkpoint_every=t["checkpoint_every"], resume=True, val_trajectories=val_set,
                   rollout_steps=t["rollout_steps"], progress=show)
    with atomic_write(out / METRICS_NAME, mode="w") as handle:
        json.dump(_finished_metrics(checkpoint, train_idx, val_idx), handle, indent=2)
    return checkpoint


def evaluate_dynamics(checkpoint: PathLike, data_root: PathLike, families: Optional[Sequence[int]] = None,
                      steps: Optional[int] = None, device: str = "cpu", progress: bool = False) -> Dict[str, Any]:
    """Rollout errors of a ``giorom`` / ``gns`` checkpoint on a trajectory dataset, overall and per family.

    Parameters
    ----------
    checkpoint : path-like
        Written by :func:`train_dynamics` (``OUT/model.pt``).
    data_root : path-like
        A dataset of :func:`graphops.data.trajectories.generate_trajectories`.
    families : sequence of int, optional
        Only trajectories with these numbers of objects (the dataset's families).
    steps : int, optional
        Rollout length (default: to the end of each trajectory).
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    progress : bool

    Returns
    -------
    dict
        ``checkpoint``, ``model``, ``steps_trained``, ``data``, ``overall``
        (``trajectories``, ``mse``, ``mse_sparse``, ``mse_last``,
        ``seconds_per_step``, ``decode_seconds``; see :func:`evaluate_rollout`),
        ``families`` (keyed by ``str(number of objects)``: ``trajectories``,
        ``mse``, ``mse_last``) and ``trajectories`` (per trajectory, with its
        ``index`` and ``family``).

    Raises
    ------
    CheckpointError
        Not a checkpoint, or one of a mesh-field model.
    DataError
        Not a trajectory dataset, or no trajectory of the asked families.
    """
    from ..data.trajectories import TrajectoryDataset
    from ..errors import CheckpointError
    from .checkpoint import load_model
    from .distributed import resolve_device

    model, _, meta = load_model(checkpoint, map_location=resolve_device(device))
    if not isinstance(model, ParticleStepper):
        raise CheckpointError(f"checkpoint holds a {meta['model_name']!r} model; a trajectory dataset needs a "
                              f"particle dynamics model ({', '.join(DYNAMICS_MODELS)})", checkpoint)
    full = TrajectoryDataset(data_root)
    family_of = [int(f) for f in full.manifest.get("families", [0] * len(full))]
    indices = list(range(len(full)))
    if families is not None:
        wanted = {int(f) for f in families}
        indices = [i for i in indices if family_of[i] in wanted]
        if not indices:
            raise DataError(f"no trajectories with {sorted(wanted)} objects (the dataset has "
                            f"{sorted(set(family_of))})", full.root)
    result = evaluate_rollout(model, TrajectoryDataset(data_root, indices), steps=steps, progress=progress)
    rows = result.pop("per_trajectory")
    for row, i in zip(rows, indices):
        row.update(index=i, family=family_of[i])
    groups: Dict[int, List[Dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["family"], []).append(row)
    per_family = {str(f): {"trajectories": len(g), "mse": float(np.mean([r["mse"] for r in g])),
                           "mse_last": float(np.mean([r["mse_last"] for r in g]))} for f, g in sorted(groups.items())}
    return {"checkpoint": str(checkpoint), "model": meta["model_name"], "steps_trained": meta.get("epoch"),
            "data": str(full.root), "overall": {"trajectories": len(rows), **result}, "families": per_family,
            "trajectories": rows}


def format_rollout_table(result: Mapping[str, Any]) -> str:
    """A plain-text table of :func:`evaluate_dynamics`: objects, trajectories, rollout MSE, last-frame MSE."""
    rows = [("objects", "trajectories", "rollout MSE", "last-frame MSE")]
    for fam, stats in result["families"].items():
        rows.append((fam, str(stats["trajectories"]), f"{stats['mse']:.4e}", f"{stats['mse_last']:.4e}"))
    o = result["overall"]
    rows.append(("all", str(o["trajectories"]), f"{o['mse']:.4e}", f"{o['mse_last']:.4e}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
