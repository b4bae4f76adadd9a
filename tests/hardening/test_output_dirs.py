"""Unwritable and full output folders: every writer fails with one clear GraphopsError, nothing half-written.

* read-only folder: ``chmod 0o555``; when the tests run as root (whom permissions
  do not stop) the writers run in a child process started by ``setpriv`` without
  CAP_DAC_OVERRIDE in its bounding set, so the kernel enforces the mode for root too;
* a path below a regular file (NotADirectoryError) and below /proc;
* disk full: the child runs under ``RLIMIT_FSIZE``, so the kernel fails every
  write past 8 KiB mid-file (EFBIG, the way ENOSPC fails a write on a full disk);
  afterwards, with space again, generate and train resume to the result of an
  uninterrupted run;
* ENOSPC (and EDQUOT) raised at fsync / rename time (monkeypatched): the old
  file stays intact and no temporary file is left.
"""
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from graphops.data import generate_dataset
from graphops.data.shards import read_shard, write_shard
from graphops.errors import GraphopsError
from graphops.io import write_mesh, write_point_cloud
from graphops.mesh import Mesh
from graphops.models import build_model
from graphops.train import train
from graphops.train.checkpoint import load_checkpoint, save_checkpoint
from graphops.train.config import dump_run_config
from graphops.utils.atomic import atomic_write
from fault_child import TRAIN_MODEL, big_mesh, operations, train_config
from hardening_helpers import STATS, assert_clean_error

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("fault_child.py")
T1 = ROOT / "meshes" / "t1.geo"
OPS = ["write_mesh", "write_point_cloud", "save_checkpoint", "generate", "train", "predict", "cli predict"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A tiny dataset (also the reference for a resumed generation) and a field-model checkpoint."""
    root = tmp_path_factory.mktemp("inputs")
    dataset = generate_dataset("poisson-dirichlet", 3, root / "ds", tiny=True, seed=0, shard_size=1, progress=False)
    ckpt = save_checkpoint(root / "gno.pt", build_model({"name": "gno", "hidden": 4}),
                           extra={"dataset": {"problem": "poisson-dirichlet"}})
    return {"dataset": str(dataset), "checkpoint": str(ckpt), "mesh": str(T1)}


def _run_child(spec_dir, dest, inputs, fsize_limit=None):
    spec = spec_dir / "spec.json"
    spec.write_text(json.dumps({"dest": str(dest), "inputs": inputs, "ops": OPS, "fsize_limit": fsize_limit}))
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(CHILD), str(spec)]
    if os.geteuid() == 0 and fsize_limit is None:
        # root ignores file modes through CAP_DAC_OVERRIDE: start the child without it (util-linux setpriv)
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a folder read-only for the writers")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *command]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    probe = records.pop(0)
    if not probe["enforced"]:
        pytest.skip("this machine does not let a test make a folder unwritable")
    return {r["op"]: r for r in records}


def _check_records(records, dest):
    """Each op failed with one line naming a path under ``dest`` (the trainer included: no bare mkdir)."""
    assert set(records) == set(OPS)
    for op, r in records.items():
        STATS["output faults injected"] += 1
        if op == "cli predict":
            lines = r["stderr"].strip().splitlines()
            assert r["result"] == 2 and len(lines) == 1 and lines[0].startswith("graphops: error: "), r
            assert str(dest) in lines[0], r
            continue
        assert not r["ok"], f"{op} wrote to {dest} although it should have failed"
        assert r["graphops"], f"{op}: {r['type']}: {r['message']}\n{r.get('traceback', '')}"
        assert "\n" not in r["message"] and str(dest) in r["message"], (op, r["message"])


def _leftovers(dest):
    return sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())


def test_read_only_output_folder(tmp_path, inputs):
    dest = tmp_path / "readonly"
    dest.mkdir()
    dest.chmod(0o555)
    try:
        records = _run_child(tmp_path, dest, inputs)
    finally:
        dest.chmod(0o755)
    _check_records(records, dest)
    assert _leftovers(dest) == []


@pytest.mark.parametrize("where", ["below a file", "below /proc"])
def test_output_path_that_cannot_be_a_folder(tmp_path, inputs, where):
    if where == "below a file":
        (tmp_path / "file").write_text("I am a file")
        dest = tmp_path / "file" / "out"
    else:
        dest = Path(f"/proc/{os.getpid()}/graphops-no-such-folder") / "out"
    ops = operations(dest, inputs)
    for name in ("write_mesh", "write_point_cloud", "save_checkpoint", "generate", "predict", "train"):
        STATS["output faults injected"] += 1
        try:
            ops[name]()
        except GraphopsError as exc:
            assert_clean_error(exc)
            assert str(dest.parent) in str(exc), (name, str(exc))
            continue
        pytest.fail(f"{name} wrote below {dest.parent}")


def test_disk_full_midway_then_resume_gives_the_uninterrupted_result(tmp_path, inputs):
    dest = tmp_path / "full"
    dest.mkdir()
    records = _run_child(tmp_path, dest, inputs, fsize_limit=8192)
    assert _check_records(records, dest) is None
    for op in ("write_mesh", "save_checkpoint", "generate", "train", "predict"):
        assert "File too large" in records[op]["message"] or "write failed" in records[op]["message"], records[op]
    # nothing half-written: only small complete files remain, no temporaries
    left = _leftovers(dest)
    assert not [p for p in left if Path(p).name.startswith(".")], left
    assert set(left) <= {"ds/manifest.json", "run/config.yaml"}, left
    manifest = json.loads((dest / "ds" / "manifest.json").read_text())
    assert manifest["complete"] is False
    assert yaml.safe_load((dest / "run" / "config.yaml").read_text())["model"]["name"] == "beno"

    # space again: the same commands finish, with the result of an uninterrupted run
    generate_dataset("poisson-dirichlet", 3, dest / "ds", tiny=True, seed=0, shard_size=1, progress=False)
    ref = sorted(Path(inputs["dataset"], "shards").glob("*.npz"))
    got = sorted((dest / "ds" / "shards").glob("*.npz"))
    assert [p.name for p in ref] == [p.name for p in got]
    for a, b in zip(ref, got):
        xa, xb = read_shard(a), read_shard(b)
        assert all(np.array_equal(xa[k], xb[k]) for k in xa), a.name
    train(train_config(inputs["dataset"], str(dest / "run")), progress=False)
    train(train_config(inputs["dataset"], str(tmp_path / "straight")), progress=False)
    w1 = load_checkpoint(dest / "run" / "last.pt")["model_state"]
    w2 = load_checkpoint(tmp_path / "straight" / "last.pt")["model_state"]
    assert all(torch.equal(w1[k], w2[k]) for k in w2)


def _writers(folder):
    """name -> (target file, write call) for the writers that go through the atomic helpers."""
    mesh = big_mesh()
    return {
        "write_mesh .vtu": (folder / "m.vtu", lambda p: write_mesh(p, mesh)),
        "write_mesh .msh": (folder / "m.msh", lambda p: write_mesh(p, mesh)),
        "write_point_cloud": (folder / "c.xyz", lambda p: write_point_cloud(p, Mesh(mesh.points))),
        "save_checkpoint": (folder / "m.pt", lambda p: save_checkpoint(p, build_model(dict(TRAIN_MODEL)))),
        "write_shard": (folder / "s.npz", lambda p: write_shard(p, [{"index": np.int64(0), "u": np.ones(9)}])),
        "dump_run_config": (folder / "c.yaml", lambda p: dump_run_config({"out": "x"}, p)),
        "atomic_write": (folder / "t.json", _write_text),
    }


def _write_text(path):
    with atomic_write(path, "w") as handle:
        handle.write("{}")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
@pytest.mark.parametrize("stage", ["fsync", "replace"])
def test_no_space_keeps_the_old_file(tmp_path, monkeypatch, code, stage):
    writers = _writers(tmp_path)
    for _, (target, _) in writers.items():
        target.write_bytes(b"OLD")

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, stage, fail)
    for name, (target, write) in writers.items():
        if stage == "fsync" and name not in ("write_shard", "dump_run_config", "atomic_write"):
            continue  # only atomic_write fsyncs
        STATS["output faults injected"] += 1
        with pytest.raises(GraphopsError) as err:
            write(target)
        assert_clean_error(err.value, target.name)
        assert os.strerror(code) in str(err.value), (name, str(err.value))
        assert target.read_bytes() == b"OLD", f"{name} damaged the old file"
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [], "temporary files left"
