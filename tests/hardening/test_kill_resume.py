"""SIGKILL during the particle pipeline (trajectory generation, GIOROM training), then re-run.

The PDE pipeline already has these checks (tests/data/test_generate.py kills
``graphops generate``; tests/cli/test_train_cli.py and tests/train/test_trainer.py
kill ``graphops train``); here the same is done to the MLS-MPM trajectory
generator and to the particle-dynamics trainer, which have their own resume
code. A killed run, re-run, must give exactly the arrays / weights of an
uninterrupted run, and whatever the kill left on disk must be complete.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from graphops.cli import main
from graphops.data.shards import read_shard
from graphops.train.checkpoint import load_checkpoint
from hardening_helpers import STATS

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
GENERATE = ["generate", "--problem", "mpm-trajectories", "--n", "4", "--tiny", "--seed", "7", "--shard-size", "1",
            "--frames", "12", "--materials", "jelly", "--quiet"]


def _start(args):
    return subprocess.Popen([sys.executable, "-m", "graphops", *args], cwd=ROOT, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when(proc, ready, what, timeout=180):
    """SIGKILL ``proc`` as soon as ``ready()`` is true; False when the run ended before that."""
    try:
        deadline = time.time() + timeout
        while not ready():
            if proc.poll() is not None:
                assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
                return False
            assert time.time() < deadline, f"{what} never became ready"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        STATS["SIGKILLs injected"] += 1
        return True
    finally:
        proc.kill()
        proc.wait()


def _shards(root):
    return sorted((Path(root) / "shards").glob("shard-*.npz"))


@pytest.fixture(scope="module")
def reference_trajectories(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "traj"
    assert main([*GENERATE, "--out", str(out)]) == 0
    return out


def test_sigkill_during_trajectory_generation_then_rerun(tmp_path, reference_trajectories):
    out = tmp_path / "traj"
    killed = _kill_when(_start([*GENERATE, "--out", str(out)]), lambda: len(_shards(out)) >= 1, "generate")
    # never a silent skip: the kill lands at the first of 4 shards; a run that beat it is a failure to look at
    assert killed, "the generation finished before it could be killed: make the run longer"
    for shard in _shards(out):  # what the kill left is complete
        read_shard(shard)
    assert main([*GENERATE, "--out", str(out)]) == 0
    ref, got = _shards(reference_trajectories), _shards(out)
    assert [p.name for p in ref] == [p.name for p in got]
    for a, b in zip(ref, got):
        xa, xb = read_shard(a), read_shard(b)
        assert xa.keys() == xb.keys() and all(np.array_equal(xa[k], xb[k]) for k in xa), a.name
    assert not [p for p in out.rglob(".*") if p.is_file()], "temporary files left behind"


def _config(folder, data, out):
    cfg = {
        "data": {"root": str(data), "val_fraction": 0.25},
        "model": {"name": "gns", "hidden": 16, "layers": 2, "material_dim": 4, "radius": "auto"},
        "train": {"steps": 120, "batch_size": 2, "seed": 0, "checkpoint_every": 10, "rollout_steps": 2,
                  "decoder_queries": 64},
        "out": str(out),
    }
    path = folder / f"{Path(out).name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_sigkill_during_particle_training_then_rerun(tmp_path, reference_trajectories):
    out = tmp_path / "killed"
    config = _config(tmp_path, reference_trajectories, out)
    ckpt = out / "model.pt"
    killed = _kill_when(_start(["train", str(config), "--no-progress"]), ckpt.exists, "train")
    assert killed, "training finished before it could be killed: make the run longer"
    assert load_checkpoint(ckpt)["epoch"] < 120  # the checkpoint the kill left is complete, loadable, mid-run
    assert main(["train", str(config), "--no-progress"]) == 0

    straight = _config(tmp_path, reference_trajectories, tmp_path / "straight")
    assert main(["train", str(straight), "--no-progress"]) == 0
    expected, got = load_checkpoint(tmp_path / "straight" / "model.pt"), load_checkpoint(ckpt)
    assert got["model_state"].keys() == expected["model_state"].keys()
    for key, value in expected["model_state"].items():
        assert torch.equal(value, got["model_state"][key]), key
    assert not [p for p in out.rglob(".*") if p.is_file()], "temporary files left behind"
