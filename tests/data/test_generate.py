"""Dataset generation: manifest, resume after SIGKILL with identical arrays, skipping, clear errors."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from graphops.data import generate_dataset, read_manifest, sample_seed
from graphops.data.shards import read_shard
from graphops.errors import ConfigError, GraphopsError

ROOT = Path(__file__).resolve().parents[2]


def _shards(root):
    return sorted((Path(root) / "shards").glob("shard-*.npz"))


def _assert_same_arrays(a, b):
    sa, sb = _shards(a), _shards(b)
    assert [p.name for p in sa] == [p.name for p in sb]
    for pa, pb in zip(sa, sb):
        xa, xb = read_shard(pa), read_shard(pb)
        assert xa.keys() == xb.keys()
        for k in xa:
            assert xa[k].dtype == xb[k].dtype and np.array_equal(xa[k], xb[k]), (pa.name, k)


def test_kill_mid_run_then_resume_gives_the_same_arrays_as_an_uninterrupted_run(tmp_path):
    args = dict(problem="poisson-dirichlet", n=60, seed=5, tiny=True, shard_size=3)
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "graphops", "generate", "--problem", args["problem"], "--n", str(args["n"]),
           "--out", str(killed), "--seed", "5", "--tiny", "--shard-size", "3", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not (killed / "shards" / "shard-00000.npz").exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, "no shard appeared"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = _shards(killed)
    assert 1 <= len(partial) < 20, "the run finished before it could be interrupted"
    assert read_manifest(killed)["complete"] is False
    for path in partial:  # whatever the kill left is complete and loadable
        read_shard(path)

    generate_dataset(out=killed, progress=False, **args)
    reference = generate_dataset(out=tmp_path / "reference", workers=2, progress=False, **args)
    _assert_same_arrays(killed, reference)
    m1, m2 = read_manifest(killed), read_manifest(reference)
    assert m1["complete"] and m2["complete"]
    assert m1["families"] == m2["families"] and m1["num_nodes"] == m2["num_nodes"]
    assert not list((killed / "shards").glob(".*")), "temporary files were not cleaned"


def test_manifest_records_config_seeds_and_versions(mixed_dataset):
    m = json.loads((mixed_dataset / "manifest.json").read_text())
    assert m["problem"] == "poisson-mixed" and m["n"] == 12 and m["seed"] == 3 and m["shard_size"] == 4
    assert m["num_shards"] == 3 and len(m["shards"]) == 3 and len(m["families"]) == 12
    assert m["config"]["cutouts"] == [0, 1, 2, 3, 4] and m["config"]["mesh_size"] == 0.06
    assert {"graphops", "numpy", "scikit-fem", "gmsh", "torch"} <= set(m["versions"])
    assert m["target"] == "u" and "SeedSequence" in m["seed_derivation"]
    seeds = np.concatenate([read_shard(p)["seed"] for p in _shards(mixed_dataset)])
    assert list(seeds) == [sample_seed(3, i) for i in range(12)]


def test_rerun_skips_good_shards_and_regenerates_broken_ones(tmp_path):
    args = dict(problem="elasticity-holes", n=4, tiny=True, shard_size=2, progress=False)
    root = generate_dataset(out=tmp_path / "ds", **args)
    first, second = _shards(root)
    before = read_shard(second)
    stamp = first.stat().st_mtime_ns
    second.write_bytes(second.read_bytes()[:100])  # a corrupt shard
    (root / "shards" / ".shard-00001.abc.tmp.npz").write_bytes(b"junk")  # a stale temporary file
    generate_dataset(out=root, **args)
    assert first.stat().st_mtime_ns == stamp
    after = read_shard(second)
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert not list((root / "shards").glob(".*"))


def test_a_folder_with_another_dataset_or_other_files_is_refused(tmp_path, mixed_dataset):
    with pytest.raises(ConfigError, match=r"manifest.json: holds a different dataset \(n: 12 there, 13 asked"):
        generate_dataset("poisson-mixed", 13, mixed_dataset, seed=3, tiny=True, shard_size=4, progress=False)
    with pytest.raises(ConfigError, match="problem: 'poisson-mixed' there"):
        generate_dataset("poisson-dirichlet", 12, mixed_dataset, seed=3, tiny=True, shard_size=4, progress=False)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        generate_dataset("poisson-mixed", 2, other, tiny=True, progress=False)


@pytest.mark.parametrize("kwargs,match", [
    ({"n": 0}, "n \\(number of samples\\) must be an integer >= 1"),
    ({"n": -3}, "must be an integer >= 1"),
    ({"workers": 0}, "workers"),
    ({"seed": -1}, "seed"),
    ({"shard_size": 0}, "shard_size"),
    ({"problem": "poisson"}, "unknown problem 'poisson' \\(known: elasticity-holes, elasticity-small-hole, poisson-dirichlet"),
    ({"cutouts": "1,7"}, "cutouts"),
])
def test_bad_arguments_are_config_errors(tmp_path, kwargs, match):
    args = {"problem": "poisson-dirichlet", "n": 2, "out": tmp_path / "x", "tiny": True, "progress": False, **kwargs}
    with pytest.raises(ConfigError, match=match):
        generate_dataset(**args)
    assert not (tmp_path / "x").exists()


def test_unwritable_output_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(GraphopsError, match="cannot create the output folder"):
        generate_dataset("poisson-dirichlet", 2, blocker / "ds", tiny=True, progress=False)


def test_sample_seeds_are_deterministic_and_distinct():
    seeds = [sample_seed(0, i) for i in range(1000)] + [sample_seed(1, i) for i in range(1000)]
    assert len(set(seeds)) == 2000 and all(0 <= s < 2**63 for s in seeds)
    assert sample_seed(7, 3) == sample_seed(7, 3)


def test_a_dataset_written_before_an_option_existed_still_resumes(tmp_path):
    args = dict(problem="poisson-dirichlet", n=2, tiny=True, shard_size=2, progress=False)
    root = generate_dataset(out=tmp_path / "ds", **args)
    manifest_path = root / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["config"]["aspect"]  # as written before the aspect option was added
    manifest_path.write_text(json.dumps(manifest))
    assert generate_dataset(out=root, **args) == root  # the default (1: the unit square) is what it had
    with pytest.raises(ConfigError, match=r"config\.aspect: 1\.0 there, 2\.0 asked"):
        generate_dataset(out=root, aspect=2.0, **args)
