"""SIGKILL ``graphops predict``, ``evaluate`` and ``decompose`` at every write, then re-run.

The kill lands deterministically (see ``kill_points_child.py``): just after each file is
opened for writing and just before each atomic rename into the output folder, so no
run can finish before its kill and skip the check. After every kill, each output is
either absent or complete (identical to the uninterrupted run's); the re-run then
gives exactly the uninterrupted outputs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hardening_helpers import STATS

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("kill_points_child.py")
T1 = ROOT / "meshes" / "t1.geo"


@pytest.fixture(scope="module")
def trained(train_tiny_beno):
    """A tiny dataset and a BENO checkpoint trained on it for one epoch: (checkpoint, dataset root)."""
    data, checkpoint = train_tiny_beno("kill-commands", n=4, seed=3, batch_size=2)
    return checkpoint, data


def _files(folder: Path) -> dict:
    """Visible files (temporary files are dot-files) by name -> bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")}


def _kill_everywhere(tmp_path: Path, argv, expected_outputs) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"argv": argv, "root": str(tmp_path / "runs")}))
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(CHILD), str(spec)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    by_mode = {m: [r for r in records if r["mode"] == m] for m in ("open", "replace")}
    for mode, rows in by_mode.items():
        assert rows and not rows[-1]["killed"] and rows[-1]["code"] == 0, (mode, rows, proc.stderr[-2000:])
        kills = [r for r in rows if r["killed"]]
        # every output is written through at least one open and one rename: the kills cannot all miss
        assert len(kills) >= len(expected_outputs), (mode, rows)
        reference = _files(Path(rows[-1]["folder"]))
        assert sorted(reference) == sorted(expected_outputs)
        for r in kills:
            STATS["SIGKILLs injected"] += 1
            left = _files(Path(r["folder"] + "-killed"))
            for name, content in left.items():  # absent or complete, never half-written
                assert name in reference and content == reference[name], (mode, r["n"], name)
            assert r["code"] == 0, (mode, r)
            assert _files(Path(r["folder"])) == reference, (mode, r["n"])  # the re-run completes it


def test_sigkill_predict_at_every_write(trained, tmp_path):
    checkpoint, _ = trained
    argv = ["predict", str(checkpoint), str(T1), "--source", "sin(pi*x)", "--boundary", "x*y", "-o", "{out}/pred.vtu"]
    _kill_everywhere(tmp_path, argv, ["pred.vtu", "pred.ood.json", "pred.png"])


def test_sigkill_evaluate_at_every_write(trained, tmp_path):
    checkpoint, data = trained
    argv = ["evaluate", str(checkpoint), str(data), "--device", "cpu", "--json", "{out}/eval.json"]
    _kill_everywhere(tmp_path, argv, ["eval.json"])


def test_sigkill_decompose_at_every_write(tmp_path):
    cloud = tmp_path / "cloud.npy"
    np.save(cloud, np.random.default_rng(0).random((400, 2)) ** 2)
    argv = ["decompose", str(cloud), "--n", "4", "-o", "{out}/parts.vtu"]
    _kill_everywhere(tmp_path, argv, ["parts.vtu", "parts_boxes.vtu", "parts.png"])
