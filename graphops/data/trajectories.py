"""Particle-trajectory datasets: MPM simulations on disk (sharded, resumable) and training windows.

Generate (Python, or ``python -m graphops.data.trajectories --n 6 --out DIR``)::

    from graphops.data.trajectories import generate_trajectories, TrajectoryDataset, TrajectoryWindows
    generate_trajectories(6, "runs/data/jelly", seed=0, materials=["jelly"])
    trajectories = TrajectoryDataset("runs/data/jelly")
    traj = trajectories[0]                 # positions (F, P, d) float32, material (P,), bounds (2, d) ...
    windows = TrajectoryWindows(trajectories, history=5, num_samples=256)
    item = windows[0]                      # history (C+1, M, d), acceleration (M, d), ...

Layout: the same as :mod:`graphops.data.generate` (``DIR/manifest.json`` with
``problem = "mpm-trajectories"``, ``DIR/shards/shard-*.npz``), and the same
guarantees: trajectory ``i`` is simulated with the seed
:func:`graphops.data.generate.sample_seed` ``(seed, i)`` (so it does not depend
on workers or interruptions), every file is written atomically, and a re-run
keeps the shards that load and regenerates the rest. Each trajectory is a
random MPM scene (:func:`graphops.solvers.mpm.simulate_trajectory`: a few
boxes / disks / polygons with random initial velocities and spins).

Inside a shard a trajectory's per-particle arrays are stored particle-first,
``positions`` ``(P, F, d)``, so that shards can hold clouds of different
sizes; :class:`TrajectoryDataset` hands them back frame-first ``(F, P, d)``.
"""
from __future__ import annotations

import argparse
import json
import functools
import os
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from ..errors import ConfigError, DataError, GraphopsError
from .generate import (
    FORMAT,
    FORMAT_VERSION,
    SEED_DERIVATION,
    _check_int,
    _now,
    _shard_ranges,
    fill_shards,
    library_versions,
    read_manifest,
)
from .shards import SHARD_DIR, read_shard, unpack_sample

PathLike = Union[str, "os.PathLike[str]"]

PROBLEM = "mpm-trajectories"
DEFAULT_SHARD_SIZE = 4
#: (normal, tiny) defaults of the simulation options.
SIM_DEFAULTS = {"n_particles": (2000, 200), "n_frames": (100, 24), "frame_dt": (0.01, 0.01)}
#: Per-particle arrays, stored (P, ...) in shards and (F, P, d) in memory where they have frames.
FRAME_FIELDS = ("positions", "velocities")


def trajectory_config(tiny: bool = False, n_frames: Optional[int] = None, frame_dt: Optional[float] = None,
                      substeps: Optional[int] = None, **scene_options: Any) -> Dict[str, Any]:
    """The full, validated, JSON-plain configuration of a trajectory dataset.

    Parameters
    ----------
    tiny : bool
        Small defaults for tests: 200 particles, 24 frames (else 2000 and 100).
    n_frames : int, optional
        Recorded frames per trajectory (>= 3).
    frame_dt : float, optional
        Seconds between frames (0.01).
    substeps : int, optional
        MPM steps per frame (default: the CFL minimum).
    **scene_options
        Keys of :func:`graphops.solvers.mpm.make_scene` (``dim``, ``n_particles``,
        ``materials``, ``shapes``, ``n_objects``, ``velocity_scale``...).

    Returns
    -------
    dict
        ``{"scene": {...}, "n_frames": int, "frame_dt": float, "substeps": int or None}``

    Raises
    ------
    ConfigError
        Unknown scene keys or bad values.
    """
    from ..solvers.mpm import parse_scene_config

    which = 1 if tiny else 0
    scene = dict(scene_options)
    scene.setdefault("n_particles", SIM_DEFAULTS["n_particles"][which])
    parsed = parse_scene_config(scene)
    n_frames = SIM_DEFAULTS["n_frames"][which] if n_frames is None else n_frames
    n_frames = _check_int(n_frames, "n_frames", 3)
    frame_dt = SIM_DEFAULTS["frame_dt"][which] if frame_dt is None else frame_dt
    if isinstance(frame_dt, bool) or not isinstance(frame_dt, (int, float)) or not np.isfinite(frame_dt) \
            or frame_dt <= 0:
        raise ConfigError(f"frame_dt must be a positive number, got {frame_dt!r}")
    if substeps is not None:
        substeps = _check_int(substeps, "substeps", 1)
    config = {"scene": parsed, "n_frames": n_frames, "frame_dt": float(frame_dt), "substeps": substeps}
    return json.loads(json.dumps(config))


def simulate_sample(index: int, seed: int, config: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """Simulate trajectory ``index`` with ``seed``; arrays in the shard layout (particle-first).

    Returns
    -------
    dict of ndarray
        ``positions``, ``velocities`` (P, F, d) float32; ``material``, ``object_id``
        (P,) int64; ``particle_mass`` (P,) float32; ``bounds`` (2, d) float32;
        ``times`` (F,); scalars ``index``, ``seed``, ``family`` (number of objects),
        ``frame_dt``, ``dt``, ``substeps``, ``n_grid``, ``particle_volume``, ``gravity``;
        strings ``boundary``, ``materials_json``.
    """
    from ..solvers.mpm import simulate_trajectory

    try:
        traj = simulate_trajectory(config["scene"], int(seed), int(config["n_frames"]),
                                   frame_dt=float(config["frame_dt"]), substeps=config["substeps"])
    except GraphopsError as exc:
        raise DataError(f"trajectory {index} (seed {seed}) failed: {exc}") from None
    out: Dict[str, np.ndarray] = {}
    for key, value in traj.items():
        out[key] = np.ascontiguousarray(value.transpose(1, 0, 2)) if key in FRAME_FIELDS else value
    out["index"] = np.asarray(index, dtype=np.int64)
    out["seed"] = np.asarray(seed, dtype=np.int64)
    out["family"] = np.asarray(int(traj["object_id"].max()) + 1 if traj["object_id"].size else 0, dtype=np.int64)
    return out


def _summary(arrays: Dict[str, np.ndarray]) -> Dict[str, List[int]]:
    """Per-trajectory manifest entries of one shard: family (number of objects) and particle count."""
    return {"families": [int(v) for v in arrays["family"]],
            "num_particles": [int(v) for v in np.diff(arrays["material__offsets"])]}


def generate_trajectories(
    n: int,
    out: PathLike,
    seed: int = 0,
    tiny: bool = False,
    workers: int = 1,
    shard_size: int = DEFAULT_SHARD_SIZE,
    n_frames: Optional[int] = None,
    frame_dt: Optional[float] = None,
    substeps: Optional[int] = None,
    progress: bool = True,
    **scene_options: Any,
) -> Path:
    """Simulate (or finish simulating) ``n`` MPM trajectories into ``out``.

    Parameters
    ----------
    n : int
        Number of trajectories (> 0).
    out : path-like
        Output folder. A folder holding the same dataset is resumed; one holding
        another dataset is refused with a :class:`ConfigError`.
    seed : int
        Base seed; trajectory ``i`` uses ``sample_seed(seed, i)``.
    tiny : bool
        Small trajectories for tests (see :func:`trajectory_config`).
    workers : int
        Processes (``spawn``); 1 simulates in this process.
    shard_size : int
        Trajectories per shard file.
    n_frames, frame_dt, substeps, **scene_options
        See :func:`trajectory_config`.
    progress : bool
        tqdm bar over trajectories.

    Returns
    -------
    Path
        The output folder.
    """
    n = _check_int(n, "n (number of trajectories)", 1)
    workers = _check_int(workers, "workers", 1)
    seed = _check_int(seed, "seed", 0)
    shard_size = _check_int(shard_size, "shard_size", 1)
    config = trajectory_config(tiny, n_frames=n_frames, frame_dt=frame_dt, substeps=substeps, **scene_options)
    root = Path(out).expanduser()
    ranges = _shard_ranges(n, shard_size)
    manifest: Dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "problem": PROBLEM,
        "kind": "trajectories",
        "description": "MLS-MPM particle trajectories of random scenes (graphops.solvers.mpm)",
        "n": n,
        "seed": seed,
        "shard_size": shard_size,
        "num_shards": len(ranges),
        "tiny": bool(tiny),
        "config": config,
        "family_name": "num_objects",
        "group_names": [],
        "node_fields": [],
        "target": "positions",
        "layout": "per-particle arrays stored (P, F, d); TrajectoryDataset returns (F, P, d)",
        "seed_derivation": SEED_DERIVATION,
        "versions": library_versions(),
        "created": _now(),
        "complete": False,
    }
    return fill_shards(root, manifest, ranges, functools.partial(simulate_sample, config=config), _summary,
                       seed=seed, workers=workers, progress=progress, desc="generate mpm-trajectories", unit="traj")


class TrajectoryDataset:
    """Trajectories written by :func:`generate_trajectories`, read lazily (a small shard cache).

    ``dataset[i]`` is a dict of numpy arrays: ``positions``, ``velocities``
    (F, P, d) float32, ``material`` (P,) int64, ``bounds`` (2, d) float32,
    ``frame_dt`` (0-d), ``index``, ``seed`` ... (see :func:`simulate_sample`).

    Parameters
    ----------
    root : path-like
        Dataset folder.
    indices : sequence of int, optional
        Keep only these trajectories (e.g. a train / test split).
    cache_size : int
        Shards kept in memory.

    Raises
    ------
    DataError
        No manifest, not a trajectory dataset, or an unfinished one.
    """

    def __init__(self, root: PathLike, indices: Optional[Sequence[int]] = None, cache_size: int = 2) -> None:
        self.root = Path(root).expanduser()
        self.manifest = read_manifest(self.root)
        if self.manifest.get("problem") != PROBLEM:
            raise DataError(f"not a particle-trajectory dataset (problem {self.manifest.get('problem')!r}, "
                            f"expected {PROBLEM!r})", self.root)
        if not self.manifest.get("complete"):
            raise DataError("the trajectory dataset is incomplete; re-run the generation to finish it", self.root)
        n = int(self.manifest["n"])
        self.indices = list(range(n)) if indices is None else [int(i) for i in indices]
        bad = [i for i in self.indices if not 0 <= i < n]
        if bad:
            raise DataError(f"trajectory index {bad[0]} out of range 0..{n - 1}", self.root)
        self._cache: "OrderedDict[int, Dict[str, np.ndarray]]" = OrderedDict()
        self._cache_size = max(1, int(cache_size))

    def __len__(self) -> int:
        return len(self.indices)

    def _shard(self, s: int) -> Dict[str, np.ndarray]:
        if s in self._cache:
            self._cache.move_to_end(s)
            return self._cache[s]
        arrays = read_shard(self.root / SHARD_DIR / self.manifest["shards"][s])
        self._cache[s] = arrays
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return arrays

    def __getitem__(self, i: int) -> Dict[str, np.ndarray]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"trajectory {i} out of range (dataset of {len(self)})")
        index = self.indices[i]
        size = int(self.manifest["shard_size"])
        arrays = self._shard(index // size)
        sample = unpack_sample(arrays, index % size)
        if int(sample["index"]) != index:
            raise DataError(f"shard holds trajectory {int(sample['index'])} where {index} was expected", self.root)
        out = {k: (np.ascontiguousarray(v.transpose(1, 0, 2)) if k in FRAME_FIELDS else v) for k, v in sample.items()}
        return out

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


def _check_trajectory(traj: Mapping[str, Any], i: int) -> None:
    for key in ("positions", "material", "bounds"):
        if key not in traj:
            raise DataError(f"trajectory {i} has no {key!r} array")
    pos = np.asarray(traj["positions"])
    if pos.ndim != 3 or pos.shape[1] == 0 or pos.shape[2] not in (2, 3):
        raise DataError(f"trajectory {i}: positions must have shape (F, P, 2|3), got {pos.shape}")
    if len(np.asarray(traj["material"])) != pos.shape[1]:
        raise DataError(f"trajectory {i}: material has {len(traj['material'])} entries for {pos.shape[1]} particles")
    if not np.isfinite(pos).all():
        frame, particle = (int(v) for v in np.argwhere(~np.isfinite(pos))[0][:2])
        raise DataError(f"trajectory {i}: positions contain NaN/inf (first at frame {frame}, particle {particle})")


class TrajectoryWindows:
    """Training windows of trajectories: a velocity history and the next acceleration.

    Window ``(i, t)`` of trajectory ``i`` ends at frame ``t`` (``C <= t <= F - 2``)::

        history       (C + 1, M, d)  positions of frames t - C .. t
        velocities    (C, M, d)      x_k - x_{k-1} (per-frame displacements)
        acceleration  (M, d)         x_{t+1} - 2 x_t + x_{t-1}
        target        (M, d)         x_{t+1}
        material      (M,) int64,  bounds (2, d),  reference (M, d) positions at frame 0
        sparse_index  (M,) int64     the particles kept (all when num_samples is None)
        trajectory, frame            ints

    With ``num_samples`` the particles are the farthest-point samples of frame 0
    (picked once per trajectory, Lagrangian: the same particles in every frame).

    Parameters
    ----------
    trajectories : TrajectoryDataset or sequence of dicts
        Each with ``positions`` (F, P, d), ``material`` (P,), ``bounds`` (2, d).
    history : int
        Number ``C`` of past velocities.
    num_samples : int, optional
        Sparse particles per trajectory (FPS); None keeps all.
    fps_backend : str
        See :func:`graphops.sampling.farthest_point_sampling`.
    """

    def __init__(self, trajectories, history: int = 5, num_samples: Optional[int] = None,
                 fps_backend: str = "auto") -> None:
        self.trajectories = trajectories
        self.history = _check_int(history, "history", 1)
        if num_samples is not None:
            num_samples = _check_int(num_samples, "num_samples", 1)
        self.num_samples, self.fps_backend = num_samples, fps_backend
        self._index: List[tuple] = []
        self._frames: List[int] = []
        self._sparse: Dict[int, np.ndarray] = {}
        for i in range(len(trajectories)):
            traj = trajectories[i]
            _check_trajectory(traj, i)
            f = int(np.asarray(traj["positions"]).shape[0])
            if f < self.history + 2:
                raise DataError(f"trajectory {i} has {f} frames; windows of history {self.history} need "
                                f"at least {self.history + 2}")
            self._frames.append(f)
            self._index.extend((i, t) for t in range(self.history, f - 1))

    def __len__(self) -> int:
        return len(self._index)

    def trajectory(self, i: int) -> Dict[str, np.ndarray]:
        """Trajectory ``i`` (all particles)."""
        return self.trajectories[i]

    def sparse_index(self, i: int) -> np.ndarray:
        """Particles of trajectory ``i`` the windows keep (FPS of frame 0, sorted), cached."""
        if i not in self._sparse:
            pos0 = np.asarray(self.trajectories[i]["positions"][0])
            if self.num_samples is None or self.num_samples >= len(pos0):
                idx = np.arange(len(pos0))
            else:
                from ..sampling import farthest_point_sampling

                idx = np.sort(farthest_point_sampling(pos0, self.num_samples, start=0, backend=self.fps_backend))
            self._sparse[i] = idx
        return self._sparse[i]

    def window(self, i: int, t: int) -> Dict[str, Any]:
        """Window of trajectory ``i`` ending at frame ``t`` (see the class docstring)."""
        import torch

        traj = self.trajectories[i]
        idx = self.sparse_index(i)
        c = self.history
        pos = np.asarray(traj["positions"])
        frames = pos[t - c : t + 2][:, idx].astype(np.float32)
        hist, nxt = frames[:-1], frames[-1]
        vel = np.diff(hist, axis=0)
        acc = nxt - 2 * hist[-1] + hist[-2]
        return {
            "history": torch.from_numpy(np.ascontiguousarray(hist)),
            "velocities": torch.from_numpy(np.ascontiguousarray(vel)),
            "acceleration": torch.from_numpy(np.ascontiguousarray(acc)),
            "target": torch.from_numpy(np.ascontiguousarray(nxt)),
            "material": torch.from_numpy(np.asarray(traj["material"])[idx].astype(np.int64)),
            "bounds": torch.from_numpy(np.asarray(traj["bounds"], dtype=np.float32)),
            "reference": torch.from_numpy(np.ascontiguousarray(pos[0][idx].astype(np.float32))),
            "sparse_index": torch.from_numpy(idx.astype(np.int64)),
            "trajectory": i,
            "frame": t,
        }

    def __getitem__(self, k: int) -> Dict[str, Any]:
        if not 0 <= k < len(self):
            raise IndexError(f"window {k} out of range ({len(self)} windows)")
        return self.window(*self._index[k])


# ------------------------------------------------------------------ command line
def build_parser() -> argparse.ArgumentParser:
    """Parser of ``python -m graphops.data.trajectories``."""
    p = argparse.ArgumentParser(prog="python -m graphops.data.trajectories",
                                description="Simulate random MPM particle trajectories into DIR (resumable).")
    p.add_argument("--n", type=int, required=True, help="number of trajectories")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--tiny", action="store_true", help="200 particles, 24 frames (tests)")
    p.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE)
    p.add_argument("--n-frames", type=int, default=None, help="frames per trajectory (100; tiny 24)")
    p.add_argument("--frame-dt", type=float, default=None, help="seconds between frames (0.01)")
    p.add_argument("--particles", type=int, default=None, help="particles per trajectory (2000; tiny 200)")
    p.add_argument("--dim", type=int, choices=(2, 3), default=None)
    p.add_argument("--materials", default=None, help="comma-separated: jelly,fluid,sand")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``python -m graphops.data.trajectories``."""
    args = build_parser().parse_args(argv)
    scene: Dict[str, Any] = {}
    if args.particles is not None:
        scene["n_particles"] = args.particles
    if args.dim is not None:
        scene["dim"] = args.dim
    if args.materials:
        scene["materials"] = [m.strip() for m in args.materials.split(",") if m.strip()]
    try:
        out = generate_trajectories(args.n, args.out, seed=args.seed, tiny=args.tiny, workers=args.workers,
                                    shard_size=args.shard_size, n_frames=args.n_frames, frame_dt=args.frame_dt,
                                    progress=not args.quiet, **scene)
    except GraphopsError as exc:
        print(f"graphops: error: {exc}", file=sys.stderr)
        return 2
    print(f"trajectories ready: {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
