"""The ``particles`` task: particle dynamics (GIOROM, and the dense GNS-style stepper).

Data: a trajectory dataset (:class:`graphops.data.trajectories.TrajectoryDataset`,
``graphops generate --problem mpm-trajectories``). One unit of the loop is one
optimiser step (GNS recipe, Sanchez-Gonzalez et al. 2020, re-implemented):

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

Everything random in a step comes from ``numpy.random.default_rng([seed, step])``
and the re-seeded global generators, so a resumed run replays the same steps.
A round (``train.checkpoint_every`` steps) ends with a validation rollout on the
held-out trajectories (position MSE, :func:`evaluate_rollout`) and a
checkpoint. The normaliser statistics (``vel_mean``, ``vel_std``,
``acc_mean``, ``acc_std``), the wall box, ``frame_dt`` and the default material
are buffers of the model, so the checkpoint loads with ``weights_only=True``.
"""
from __future__ import annotations

import math
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from ..errors import ConfigError, DataError
from ..models.giorom import GIOROM, ParticleStepper
from .base import PathLike, Task, TaskData


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
    from ..train.checkpoint import load_model
    from ..train.distributed import resolve_device
    from . import decide_task

    model, _, meta = load_model(checkpoint, map_location=resolve_device(device))
    decide_task(checkpoint=meta, dataset=data_root, require="particles", command="evaluate", path=checkpoint)
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


def particle_model_names() -> List[str]:
    """Registered models of the ``particles`` task (giorom, gns)."""
    from ..models import available_models, model_task

    return [n for n in available_models() if model_task(n) == "particles"]


class ParticlesTask(Task):
    """Particle dynamics: velocity histories in, the next acceleration out (see the module docstring)."""

    name = "particles"
    unit = "step"
    length_key = "steps"
    columns = ("step", "train_loss", "loss_acc", "loss_decoder", "val_rollout_mse", "val_rollout_mse_last", "lr",
               "seconds")
    labels = {"train_loss": "train", "loss_acc": "acceleration", "loss_decoder": "decoder",
              "val_rollout_mse": "val rollout MSE", "val_rollout_mse_last": "last frame"}
    score = "val_rollout_mse"
    last_name = "model.pt"
    best_name = "best.pt"
    model_noun = "particle dynamics model"
    #: train returns the final weights (``model.pt``, what ``graphops rollout`` reads); ``best.pt`` is kept too.
    returns_best = False
    #: The particle models train in one process (a step's batch is a few trajectory windows).
    distributed = False

    def __init__(self, config, train_data, val_data=(), manifest=None, indices=None) -> None:
        super().__init__(config, train_data, val_data, manifest)
        if len(train_data) == 0:
            raise DataError("no training trajectories")
        self.indices = indices
        self._resolved: Optional[Dict[str, Any]] = None

    # ------------------------------------------------------------------ config and data
    @classmethod
    def wrong_model_message(cls, model_name: str) -> str:
        return (f"{model_name!r} is not one of the particle models ({', '.join(particle_model_names())}) "
                "of a particle-dynamics run")

    @classmethod
    def check_config(cls, config, source) -> None:
        """Model keys known to the model and accepted by it (``radius: auto`` allowed), disjoint
        trajectory lists, and a CPU device."""
        from ..errors import GraphopsError
        from ..models import build_model, default_config

        def fail(key, problem):
            return ConfigError(f"{key}: {problem}", source)

        data, model, train = config["data"], config["model"], config["train"]
        if data["train_indices"] and data["val_indices"]:
            both = sorted(set(data["train_indices"]) & set(data["val_indices"]))
            if both:
                raise fail("data.val_indices", f"trajectory {both[0]} is also in data.train_indices")
        if train["device"] not in ("cpu", "auto"):
            raise fail("train.device", f"the particle models train on the CPU: use cpu or auto, got "
                       f"{train['device']!r}")
        allowed = [k for k in default_config(model["name"]) if k != "name"]
        unknown = sorted(set(model) - set(allowed) - {"name"})
        if unknown:
            raise fail(f"model.{unknown[0]}", f"unknown key for model {model['name']!r} (allowed: "
                       f"{', '.join(allowed)})")
        probe = {k: (1.0 if k in ("radius", "decoder_radius") and v == "auto" else v) for k, v in model.items()}
        try:
            build_model(probe)
        except GraphopsError as exc:
            raise fail("model", exc.problem) from None

    @classmethod
    def open_data(cls, config, progress: bool = False):
        from ..data.trajectories import TrajectoryDataset

        root = config["data"]["root"]
        dataset = TrajectoryDataset(root)
        train_idx, val_idx = split_trajectories(len(dataset), config["data"])
        shards = max(1, len(dataset.manifest.get("shards", [])))
        train_set = TrajectoryDataset(root, train_idx, cache_size=shards)  # windows are drawn from every shard
        val_set = TrajectoryDataset(root, val_idx) if val_idx else []
        return TaskData(train_set, val_set, dict(dataset.manifest), {"indices": (train_idx, val_idx)})

    def identity(self, config):
        """The config without runtime keys and ``data`` (where the trajectories came from), plus
        the number of training trajectories: a run started from Python on the same trajectories resumes."""
        from ..train.config import runtime_keys, strip_runtime

        keys = runtime_keys(self.name) | {("data",)}
        return {**strip_runtime(config, keys), "train_trajectories": len(self.train_data)}

    @classmethod
    def run_device(cls, config) -> str:
        return "cpu"  # the particle models train on the CPU (train.device auto means cpu)

    # ------------------------------------------------------------------ training hooks
    def check_data(self, resuming: bool) -> None:
        from ..data.trajectories import _check_trajectory

        for i, traj in enumerate(self.train_data):  # name a bad trajectory before its NaN reaches the statistics
            _check_trajectory(traj, i)

    def _statistics(self) -> Dict[str, Any]:
        if self._resolved is None:
            stats = trajectory_statistics(self.train_data)
            noise = self.config["train"]["noise_std"]
            if noise is None:
                noise = float(np.sqrt((stats["acc_std"] ** 2 + stats["acc_mean"] ** 2).mean()))
            self._resolved = {**stats, "noise_std": float(noise)}
        return self._resolved

    def model_config(self) -> Dict[str, Any]:
        """``radius`` / ``decoder_radius: auto`` replaced by :func:`estimate_radius` (of the sparse
        samples for giorom) with ``train.radius_factor``."""
        config = dict(self.config["model"])
        self._statistics()
        num_samples = config.get("num_samples", 1024) if config["name"] == "giorom" else None
        fps_backend = config.get("fps_backend", "auto")
        factor = float(self.config["train"]["radius_factor"])
        for key in ("radius", "decoder_radius"):
            if config.get(key) == "auto":
                config[key] = estimate_radius(self.train_data, num_samples, factor, fps_backend)
        return config

    def prepare(self, model, payload, device) -> None:
        """Check dimension and material ids against the model; set its statistics and wall box."""
        from ..data.trajectories import TrajectoryWindows

        data = self.train_data
        stats = self._statistics()
        noise_std = stats["noise_std"]
        first = data[0]
        dim = int(np.asarray(first["positions"]).shape[2])
        if dim != model.dim:
            raise DataError(f"the model is {model.dim}D but the trajectories are {dim}D")
        materials = np.concatenate([np.asarray(data[i]["material"]) for i in range(len(data))])
        if materials.min() < 0 or materials.max() >= model.num_materials:
            raise DataError(f"material ids {materials.min()}..{materials.max()} exceed the model's "
                            f"num_materials={model.num_materials}")
        bounds = np.stack([np.asarray(data[i]["bounds"]) for i in range(len(data))])
        domain = np.stack([bounds[:, 0].min(0), bounds[:, 1].max(0)])
        model.set_statistics(stats["vel_mean"], np.maximum(np.sqrt(stats["vel_std"] ** 2 + noise_std**2), 1e-9),
                             stats["acc_mean"], np.maximum(np.sqrt(stats["acc_std"] ** 2 + noise_std**2), 1e-9))
        model.set_domain(domain, float(np.asarray(first.get("frame_dt", 1.0))), int(np.bincount(materials).argmax()))
        cfg = model.config
        num_samples = cfg.get("num_samples") if cfg["name"] == "giorom" else None
        self._model = model
        self._windows = TrajectoryWindows(data, history=model.history, num_samples=num_samples,
                                          fps_backend=cfg.get("fps_backend", "auto"))
        self._decoder = _DecoderCache(model, self._windows) if isinstance(model, GIOROM) else None

    def start(self, ctx, per_rank: int, device) -> None:
        if ctx.world_size > 1:
            raise ConfigError(f"the particle models ({', '.join(particle_model_names())}) train in one process")
        self._seed = int(self.config["train"]["seed"])
        self._batch_size = per_rank

    def round_end(self, position: int, total: int, stop_after: Optional[int]) -> int:
        every = int(self.config["train"]["checkpoint_every"])
        end = total if every <= 0 else min(total, (position // every + 1) * every)
        if stop_after is not None and position < stop_after < end:
            end = stop_after
        return end

    def batches(self, unit: int, ctx, seed: int) -> Iterable[Any]:
        rng = np.random.default_rng([self._seed, int(unit)])
        picks = rng.integers(0, len(self._windows), size=self._batch_size)
        windows = [self._windows[int(k)] for k in picks]
        return [(windows, _batch(self._model, windows, self._statistics()["noise_std"], rng), rng)]

    def loss(self, train_model, batch, device):
        windows, (hist, mat, bnd, edges, target), rng = batch
        model = self._model
        pred = train_model(hist, mat, bnd, edge_index=edges)
        loss_acc = ((pred - (target - model.acc_mean) / model.acc_std) ** 2).mean()
        parts = {"loss_acc": float(loss_acc.detach())}
        loss = loss_acc
        weight = float(self.config["train"]["decoder_weight"])
        if self._decoder is not None and weight > 0:
            loss_dec = _decoder_loss(model, self._decoder, [w["trajectory"] for w in windows], rng,
                                     int(self.config["train"]["decoder_queries"]), self._statistics()["disp_rms"])
            loss = loss + weight * loss_dec
            parts["loss_decoder"] = float(loss_dec.detach())
        return loss, 1.0, parts

    def batch_ids(self, batch) -> List[Any]:
        return [(w["trajectory"], w["frame"]) for w in batch[0]]

    def nonfinite_message(self, value, unit, step, ids) -> str:
        where = ", ".join(f"({t}, {f})" for t, f in ids[:8])
        return (f"training loss became {value} at step {unit}; batch windows (trajectory, frame): {where}"
                f"{' ...' if len(ids) > 8 else ''} (lower the learning rate?)")

    def validate(self, model, ctx, batch_size):
        if not len(self.val_data):
            return {}, {}
        rollout = evaluate_rollout(model, self.val_data, steps=self.config["train"]["rollout_steps"])
        return {"val_rollout_mse": rollout["mse"], "val_rollout_mse_last": rollout["mse_last"]}, {"rollout": rollout}

    def checkpoint_extra(self) -> Dict[str, Any]:
        stats = self._statistics()
        return {"noise_std": stats["noise_std"], "disp_rms": stats["disp_rms"]}

    def summary(self, metrics: Mapping[str, Any]) -> Dict[str, Any]:
        """``metrics.json`` of a particle run: trajectories used, the last validation rollout, the loss history."""
        from ..train.trainer import loop_seconds

        history = list(metrics.get("history") or [])
        rollout = metrics.get("rollout")
        last = history[-1] if history else {}
        train_idx, val_idx = self.indices if self.indices is not None else (None, None)
        return {
            "model": self.config["model"]["name"],
            "steps": int(last.get("step") or 0),
            "checkpoint": self.last_name,
            "train_trajectories": train_idx,
            "val_trajectories": val_idx,
            "val_rollout_mse": rollout["mse"] if rollout else None,
            "val_rollout_mse_last": rollout["mse_last"] if rollout else None,
            "train_seconds": loop_seconds(history),
            "noise_std": self._statistics()["noise_std"],
            "final_loss_acc": last.get("loss_acc"),
            "rollout": rollout,
        }

    @classmethod
    def report(cls, config, checkpoint) -> str:
        """The checkpoint and the validation rollout MSE."""
        import json
        from pathlib import Path

        lines = [f"checkpoint: {checkpoint}"]
        metrics = Path(config["out"]).expanduser() / "metrics.json"
        summary = json.loads(metrics.read_text()) if metrics.exists() else {}
        if summary.get("val_rollout_mse") is not None:
            steps = summary["rollout"]["per_trajectory"][0]["steps"]
            lines.append(f"validation rollout MSE ({len(summary['rollout']['per_trajectory'])} trajectories, "
                         f"{steps} steps): {summary['val_rollout_mse']:.4e}")
        else:
            lines.append("no validation trajectories, so no rollout MSE (see data.val_fraction)")
        return "\n".join(lines)

    # ------------------------------------------------------------------ inference
    @classmethod
    def evaluate(cls, checkpoint, data, **options) -> Dict[str, Any]:
        """Rollout MSE per number of objects: :func:`evaluate_dynamics`."""
        options.pop("batch_size", None)
        return evaluate_dynamics(checkpoint, data, **options)

    @classmethod
    def format_result(cls, result, data) -> str:
        return (f"{result['model']} (step {result['steps_trained']}) rolled out on {data}\n"
                f"{format_rollout_table(result)}")
