"""MLS-MPM particle simulator: milliseconds per substep and seconds per trajectory.

Random scenes from `graphops.solvers.mpm.make_scene` (seed 0, auto grid: 4 particles
per cell in 2D, 8 in 3D) with one material at a time and a mixed scene; the time is
the mean over `--steps` substeps after a short warm-up. The last rows time a whole
`simulate_trajectory` call (default scene config, 100 frames of 0.01 s).

Run: .venv/bin/python benchmarks/mpm.py [--quick]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_report  # noqa: E402

from graphops.solvers.mpm import MPMConfig, MPMSimulator, ParticleState, make_scene, simulate_trajectory, stable_dt  # noqa: E402


def per_substep(dim: int, n: int, materials, steps: int) -> dict:
    scene = make_scene({"dim": dim, "n_particles": n, "materials": materials, "n_objects": 2}, 0)
    dt = stable_dt(scene.n_grid, list(scene.materials.values()))
    cfg = MPMConfig(dim=dim, n_grid=scene.n_grid, dt=dt, boundary=scene.boundary, friction=scene.friction,
                    padding=scene.padding)
    sim = MPMSimulator(cfg, scene.materials)
    state = ParticleState.create(scene.x, scene.v, scene.material, scene.particle_volume, scene.materials)
    sim.run(state, 3)
    start = time.perf_counter()
    sim.run(state, steps)
    ms = (time.perf_counter() - start) / steps * 1e3
    return {"dim": dim, "material": "+".join(materials), "particles": len(scene.x), "n_grid": scene.n_grid,
            "dt_ms": dt * 1e3, "ms_per_substep": ms, "substeps_per_0.01s_frame": int(-(-0.01 // dt))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and sizes")
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    steps = 20 if args.quick else args.steps
    rows = []
    mixes = [["jelly"], ["fluid"], ["sand"], ["jelly", "fluid", "sand"]]
    for n in ([2000] if args.quick else [2000, 5000, 10000]):
        for mats in mixes:
            rows.append(per_substep(2, n, mats, steps))
            print(rows[-1], flush=True)
    for n in ([2000] if args.quick else [2000, 5000]):
        rows.append(per_substep(3, n, ["jelly", "fluid", "sand"], max(5, steps // 5)))
        print(rows[-1], flush=True)
    for seed in range(1 if args.quick else 3):
        start = time.perf_counter()
        traj = simulate_trajectory({"n_particles": 2000}, seed=seed, n_frames=100)
        seconds = time.perf_counter() - start
        rows.append({"dim": 2, "material": f"trajectory seed {seed} (default mix)", "particles": traj["positions"].shape[1],
                     "n_grid": int(traj["n_grid"]), "dt_ms": float(traj["dt"]) * 1e3,
                     "substeps_per_0.01s_frame": int(traj["substeps"]), "trajectory_100_frames_s": seconds,
                     "ms_per_substep": seconds / (99 * int(traj["substeps"])) * 1e3})
        print(rows[-1], flush=True)
    write_report(
        "mpm", "MLS-MPM particle simulator",
        "Milliseconds per MLS-MPM substep (P2G with stress, grid update with slip walls, G2P with "
        "plastic projection) of random scenes, numpy on one core; dt from the CFL rule "
        "(`stable_dt`, cfl 0.4, v_max 6 m/s). The last rows time a whole 100-frame trajectory "
        "(`simulate_trajectory({'n_particles': 2000}, seed, 100)`, frames 0.01 s apart).",
        ["dim", "material", "particles", "n_grid", "dt_ms", "substeps_per_0.01s_frame", "ms_per_substep",
         "trajectory_100_frames_s"],
        rows)


if __name__ == "__main__":
    main()
