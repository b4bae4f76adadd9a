"""Train GIOROM on a few particle simulations and roll it out from a new initial particle set.

1. simulate a few short 2D MPM trajectories of elastic jelly objects bouncing
   in a box (:func:`graphops.data.trajectories.generate_trajectories`); the
   last one is held out;
2. train GIOROM briefly (:func:`graphops.train.dynamics.train_dynamics`): an
   interaction network advances a farthest-point sample of the particles, a
   kernel-integral decoder moves every particle;
3. write the held-out scene's first frame (positions, velocity, material) as
   ``initial.vtu`` and roll the model out from it (:func:`graphops.rollout.rollout`),
   comparing with what the simulator did.

Writes ``rollout/frame_*.vtu`` + ``rollout/rollout.pvd`` (open the ``.pvd`` in
ParaView), ``rollout/rollout.gif``, ``frames.png`` (GIOROM vs MPM at a few
times), ``error.png`` (training losses and rollout error per step),
``giorom.pt`` (the checkpoint) and ``data/`` (the trajectories).
Re-running resumes (finished trajectories and training steps are kept).
Run ``python examples/05_giorom_rollout.py`` (about 2 minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

NAME = "05_giorom_rollout"

#: Full size / ``--small`` settings.
SIZES = {
    "full": {"n_trajectories": 6, "n_particles": 500, "n_frames": 50, "steps": 2000, "rollout_steps": 30,
             "workers": 2, "model": {"name": "giorom", "hidden": 32, "layers": 3, "material_dim": 4,
                                     "num_samples": 128, "radius": "auto", "decoder_radius": "auto",
                                     "decoder_hidden": 16}},
    "small": {"n_trajectories": 3, "n_particles": 80, "n_frames": 10, "steps": 3, "rollout_steps": 4,
              "workers": 1, "model": {"name": "giorom", "hidden": 8, "layers": 1, "material_dim": 2,
                                      "num_samples": 30, "radius": "auto", "decoder_radius": "auto",
                                      "decoder_hidden": 8}},
}


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("examples_output") / NAME, help="output folder")
    ap.add_argument("--small", action="store_true",
                    help="reduced size used by the tests (80 particles, 10 frames, 3 training steps)")
    ap.add_argument("--steps", type=int, default=None, help="training steps (default 2000, --small 3)")
    return ap.parse_args(argv)


def plot_frames(predicted: np.ndarray, truth: np.ndarray, material: np.ndarray, bounds: np.ndarray,
                frame_dt: float, path: Path, columns: int = 4) -> Path:
    """Two rows (GIOROM, MPM) of particle snapshots at ``columns`` evenly spaced frames, inside the wall box."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    picks = np.unique(np.linspace(0, len(predicted) - 1, columns).round().astype(int))
    both = np.concatenate([predicted, truth], axis=1).reshape(-1, 2)
    lo, hi = np.minimum(both.min(0), bounds[0]), np.maximum(both.max(0), bounds[1])
    pad = 0.02 * (hi - lo).max()
    fig, axes = plt.subplots(2, len(picks), figsize=(2.8 * len(picks), 5.8), squeeze=False)
    size = float(np.clip(3000.0 / predicted.shape[1], 1.0, 20.0))
    for col, k in enumerate(picks):
        for row, (label, frames) in enumerate((("GIOROM", predicted), ("MPM", truth))):
            ax = axes[row, col]
            ax.add_patch(Rectangle(bounds[0], *(bounds[1] - bounds[0]), fill=False, edgecolor="0.5"))
            ax.scatter(frames[k, :, 0], frames[k, :, 1], s=size, c=material, cmap="viridis", vmin=0, vmax=2,
                       linewidths=0)
            ax.set_xlim(lo[0] - pad, hi[0] + pad)
            ax.set_ylim(lo[1] - pad, hi[1] + pad)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{label}, t = {k * frame_dt:.2f} s", fontsize=9)
    fig.suptitle("rollout from a held-out initial particle set")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_error(loss_history, mse: np.ndarray, frame_dt: float, path: Path) -> Path:
    """Training losses per step, and the rollout position error per predicted frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.8))
    if loss_history:
        steps = [row["step"] for row in loss_history]
        ax0.plot(steps, [row["loss_acc"] for row in loss_history], "o-", ms=3, label="acceleration (normalised MSE)")
        if "loss_decoder" in loss_history[0]:
            ax0.plot(steps, [row["loss_decoder"] for row in loss_history], "s-", ms=3, label="decoder")
        ax0.set_yscale("log")
        ax0.legend()
    ax0.set_xlabel("training step")
    ax0.set_title("training losses")
    ax1.plot(np.arange(1, len(mse) + 1) * frame_dt, np.sqrt(mse), "o-", ms=3)
    ax1.set_xlabel("time (s)")
    ax1.set_ylabel("RMS position error vs MPM (m)")
    ax1.set_title("rollout error (all particles)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run(args: argparse.Namespace) -> None:
    import torch

    from graphops.data.trajectories import TrajectoryDataset, generate_trajectories
    from graphops.io import write_mesh
    from graphops.mesh import Mesh
    from graphops.rollout import rollout
    from graphops.train.checkpoint import load_checkpoint
    from graphops.train.dynamics import train_dynamics

    torch.set_num_threads(1)
    size = SIZES["small" if args.small else "full"]
    steps = args.steps or size["steps"]
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    n = size["n_trajectories"]
    print(f"1/3 simulating {n} MPM trajectories of ~{size['n_particles']} jelly particles, "
          f"{size['n_frames']} frames each", flush=True)
    root = generate_trajectories(n, out / "data", seed=0, workers=size["workers"], n_particles=size["n_particles"],
                                 n_frames=size["n_frames"], materials=["jelly"], n_objects=[1, 2])
    dataset = TrajectoryDataset(root)
    train_set = [dataset[i] for i in range(n - 1)]
    held_out = dataset[n - 1]

    print(f"2/3 training GIOROM for {steps} steps on {len(train_set)} trajectories", flush=True)
    ckpt = train_dynamics(size["model"], train_set, out / "giorom.pt", steps=steps, batch_size=2,
                          decoder_queries=1024, seed=0, resume=True, checkpoint_every=50, progress=True)
    payload = load_checkpoint(ckpt)
    config = payload["model_config"]
    print(f"   connectivity radius {config['radius']:.4f}, decoder radius {config['decoder_radius']:.4f}, "
          f"{config['num_samples']} advanced particles")

    frame_dt = float(held_out["frame_dt"])
    rollout_steps = min(size["rollout_steps"], held_out["positions"].shape[0] - 1)
    initial = write_mesh(out / "initial.vtu", Mesh(held_out["positions"][0].astype(np.float64), {}), point_data={
        "velocity": held_out["velocities"][0].astype(np.float64),
        "material": np.asarray(held_out["material"], dtype=np.int64),
    })
    print(f"3/3 rolling out {rollout_steps} steps from {initial.name} "
          f"({held_out['positions'].shape[1]} particles never seen in training)", flush=True)
    result = rollout(ckpt, initial, rollout_steps, out / "rollout", progress=False)
    truth = np.asarray(held_out["positions"][: rollout_steps + 1], dtype=np.float64)
    mse = ((result.positions[1:] - truth[1:]) ** 2).mean(axis=(1, 2))
    print(f"   {result.seconds:.2f} s for the model rollout; RMS position error vs MPM: "
          f"{np.sqrt(mse[0]):.2e} m after one step, {np.sqrt(mse[-1]):.2e} m after {rollout_steps}")

    frames_png = plot_frames(result.positions, truth, np.asarray(held_out["material"]),
                             np.asarray(held_out["bounds"], dtype=np.float64), frame_dt, out / "frames.png")
    error_png = plot_error(payload["metrics"].get("history", []), mse, frame_dt, out / "error.png")
    print(f"\nwrote {frames_png}\nwrote {error_png}")
    print(f"wrote {len(result.frames)} frames {result.frames[0].name} .. {result.frames[-1].name} and {result.pvd}")
    for path in result.animation:
        print(f"wrote {path}")
    print(f"checkpoint {ckpt}")
    print(f"done in {time.perf_counter() - started:.0f} s; outputs are in {out.resolve()}")


def main(argv=None) -> int:
    from graphops.errors import GraphopsError

    try:
        run(parse_args(argv))
    except GraphopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
