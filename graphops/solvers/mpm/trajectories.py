"""Run an MPM scene for a number of frames and return the trajectory as arrays.

This is the entry point of the particle dataset layer::

    traj = simulate_trajectory({"n_particles": 2000}, seed=3, n_frames=100)
    traj["positions"].shape  # (100, P, 2) float32

Frame 0 is the initial state; frames are ``frame_dt`` apart, each made of
``substeps`` MLS-MPM steps of ``dt = frame_dt / substeps`` (by default the smallest
number of substeps that satisfies the CFL condition of :func:`stable_dt`).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any, Dict, Mapping, Optional

import numpy as np
from tqdm.auto import tqdm

from graphops.errors import ConfigError
from graphops.solvers.mpm.scenes import Scene, make_scene
from graphops.solvers.mpm.simulator import MPMConfig, MPMSimulator, ParticleState, stable_dt


def substeps_for(scene: Scene, frame_dt: float, cfl: float = 0.4, v_max: float = 6.0) -> int:
    """Smallest number of substeps per frame with ``dt <= stable_dt(...)``."""
    dt = stable_dt(scene.n_grid, list(scene.materials.values()), cfl=cfl, v_max=v_max)
    return max(1, int(math.ceil(frame_dt / dt - 1e-9)))


def run_scene(scene: Scene, n_frames: int, frame_dt: float = 0.01, substeps: Optional[int] = None,
              cfl: float = 0.4, progress: bool = False) -> Dict[str, np.ndarray]:
    """Simulate ``scene`` and record ``n_frames`` frames (the first is the initial state).

    Parameters
    ----------
    scene : Scene from :func:`make_scene` or :func:`box_scene`.
    n_frames : number of recorded frames (>= 1).
    frame_dt : time between frames (s).
    substeps : MPM steps per frame; None picks the CFL minimum for ``cfl``.
    progress : show a tqdm bar over frames.

    Returns
    -------
    dict of numpy arrays:
        positions (F, P, d) float32, velocities (F, P, d) float32, material (P,) int64
        (ids of ``MATERIAL_IDS``), object_id (P,) int64, particle_mass (P,) float32,
        bounds (2, d) float32 (wall box: lower and upper corner), times (F,) float64,
        and 0-d arrays frame_dt, dt, substeps, n_grid, particle_volume, gravity,
        plus ``materials_json`` (0-d str: material parameters by name) and
        ``boundary`` (0-d str).

    Raises
    ------
    ConfigError
        Bad frame counts/lengths or a dt above the CFL limit.
    DataError
        Particles outside the box, NaN inputs, or a diverging simulation.
    """
    if not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise ConfigError(f"n_frames must be a positive integer, got {n_frames!r}")
    if not (isinstance(frame_dt, (int, float)) and math.isfinite(frame_dt) and frame_dt > 0):
        raise ConfigError(f"frame_dt must be a positive finite number, got {frame_dt!r}")
    if substeps is None:
        substeps = substeps_for(scene, frame_dt, cfl=cfl)
    if not isinstance(substeps, (int, np.integer)) or substeps < 1:
        raise ConfigError(f"substeps must be a positive integer, got {substeps!r}")
    config = MPMConfig(dim=scene.dim, n_grid=scene.n_grid, dt=frame_dt / substeps, gravity=scene.gravity,
                       boundary=scene.boundary, friction=scene.friction, padding=scene.padding)
    sim = MPMSimulator(config, scene.materials)
    state = ParticleState.create(scene.x, scene.v, scene.material, scene.particle_volume, scene.materials)
    sim.check_state(state)
    P, d = state.x.shape
    positions = np.empty((n_frames, P, d), dtype=np.float32)
    velocities = np.empty((n_frames, P, d), dtype=np.float32)
    times = np.empty(n_frames)
    positions[0], velocities[0], times[0] = state.x, state.v, 0.0
    for f in tqdm(range(1, n_frames), desc="mpm", unit="frame", disable=not progress, leave=False):
        sim.run(state, substeps)
        positions[f], velocities[f], times[f] = state.x, state.v, f * frame_dt
    materials_json = json.dumps({m.name: {k: v for k, v in asdict(m).items() if k != "name"}
                                 for m in scene.materials.values()}, sort_keys=True)
    return {
        "positions": positions,
        "velocities": velocities,
        "material": scene.material.astype(np.int64),
        "object_id": scene.object_id.astype(np.int64),
        "particle_mass": state.mass.astype(np.float32),
        "bounds": config.wall_box().astype(np.float32),
        "times": times,
        "frame_dt": np.asarray(frame_dt, dtype=np.float64),
        "dt": np.asarray(config.dt, dtype=np.float64),
        "substeps": np.asarray(substeps, dtype=np.int64),
        "n_grid": np.asarray(scene.n_grid, dtype=np.int64),
        "particle_volume": np.asarray(scene.particle_volume, dtype=np.float64),
        "gravity": np.asarray(scene.gravity, dtype=np.float64),
        "boundary": np.asarray(scene.boundary),
        "materials_json": np.asarray(materials_json),
    }


def simulate_trajectory(scene_config: Optional[Mapping[str, Any]], seed: int, n_frames: int,
                        frame_dt: float = 0.01, substeps: Optional[int] = None, cfl: float = 0.4,
                        progress: bool = False) -> Dict[str, np.ndarray]:
    """Sample a random scene from ``scene_config`` with ``seed`` and simulate it.

    Deterministic: the same (scene_config, seed, n_frames, frame_dt, substeps) gives a
    bit-identical result. See :func:`run_scene` for the returned arrays (plus ``seed``).
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    scene = make_scene(scene_config, int(seed))
    out = run_scene(scene, n_frames, frame_dt=frame_dt, substeps=substeps, cfl=cfl, progress=progress)
    out["seed"] = np.asarray(int(seed), dtype=np.int64)
    return out
