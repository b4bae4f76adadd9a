"""MPM trajectory datasets: generation (seeded, sharded, resumable), reading, training windows."""
from __future__ import annotations

import json

import numpy as np
import pytest

from graphops.data.generate import sample_seed
from graphops.data.trajectories import (
    TrajectoryDataset,
    TrajectoryWindows,
    generate_trajectories,
    main,
    simulate_sample,
    trajectory_config,
)
from graphops.errors import ConfigError, DataError

SMALL = {"n_particles": 80, "materials": ["jelly"], "n_frames": 10}


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("traj") / "ds"
    return generate_trajectories(3, out, seed=5, tiny=True, shard_size=2, progress=False, **SMALL)


def test_manifest_and_shards(small_dataset):
    manifest = json.loads((small_dataset / "manifest.json").read_text())
    assert manifest["problem"] == "mpm-trajectories" and manifest["complete"]
    assert manifest["n"] == 3 and manifest["num_shards"] == 2
    assert manifest["shards"] == ["shard-00000.npz", "shard-00001.npz"]
    assert manifest["config"]["n_frames"] == 10 and manifest["config"]["scene"]["materials"] == ["jelly"]
    assert len(manifest["num_particles"]) == 3 and all(70 <= p <= 90 for p in manifest["num_particles"])
    assert sorted(p.name for p in (small_dataset / "shards").iterdir()) == manifest["shards"]


def test_dataset_items_are_frame_first_and_match_the_simulator(small_dataset):
    ds = TrajectoryDataset(small_dataset)
    assert len(ds) == 3
    traj = ds[2]
    f, p, d = traj["positions"].shape
    assert (f, d) == (10, 2) and traj["velocities"].shape == (f, p, d)
    assert traj["material"].shape == (p,) and traj["bounds"].shape == (2, 2)
    assert int(traj["index"]) == 2 and int(traj["seed"]) == sample_seed(5, 2)
    again = simulate_sample(2, sample_seed(5, 2), trajectory_config(True, **SMALL))
    np.testing.assert_array_equal(traj["positions"], again["positions"].transpose(1, 0, 2))
    assert (traj["positions"] >= traj["bounds"][0] - 1e-6).all() and (traj["positions"] <= traj["bounds"][1] + 1e-6).all()
    sub = TrajectoryDataset(small_dataset, indices=[2])
    np.testing.assert_array_equal(sub[0]["positions"], traj["positions"])


def test_rerun_resumes_and_regenerates_a_broken_shard(small_dataset):
    shard0 = small_dataset / "shards" / "shard-00000.npz"
    shard1 = small_dataset / "shards" / "shard-00001.npz"
    before = TrajectoryDataset(small_dataset)[2]["positions"].copy()
    stamp0 = shard0.stat().st_mtime_ns
    shard1.write_bytes(b"truncated")
    generate_trajectories(3, small_dataset, seed=5, tiny=True, shard_size=2, progress=False, **SMALL)
    assert shard0.stat().st_mtime_ns == stamp0  # kept
    np.testing.assert_array_equal(TrajectoryDataset(small_dataset)[2]["positions"], before)


def test_parallel_workers_give_the_same_trajectories(tmp_path, small_dataset):
    out = generate_trajectories(3, tmp_path / "par", seed=5, tiny=True, shard_size=2, workers=2, progress=False,
                                **SMALL)
    a, b = TrajectoryDataset(out), TrajectoryDataset(small_dataset)
    for i in range(3):
        np.testing.assert_array_equal(a[i]["positions"], b[i]["positions"])


def test_another_dataset_in_the_folder_is_refused(small_dataset):
    with pytest.raises(ConfigError, match="different dataset"):
        generate_trajectories(3, small_dataset, seed=6, tiny=True, shard_size=2, progress=False, **SMALL)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_frames": 2}, "n_frames"),
        ({"frame_dt": -1.0}, "frame_dt"),
        ({"colour": "red"}, "unknown MPM scene key"),
        ({"materials": ["honey"]}, "materials"),
    ],
)
def test_bad_options(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        generate_trajectories(1, tmp_path / "x", tiny=True, progress=False, **kwargs)


def test_reading_a_folder_that_is_not_a_trajectory_dataset(tmp_path):
    with pytest.raises(DataError, match="no dataset manifest"):
        TrajectoryDataset(tmp_path)


def test_windows_hold_history_and_next_acceleration(small_dataset):
    ds = TrajectoryDataset(small_dataset)
    windows = TrajectoryWindows(ds, history=3)
    assert len(windows) == 3 * (10 - 3 - 1)
    w = windows[4]  # trajectory 0, frame 3 + 4
    traj, t = ds[w["trajectory"]], w["frame"]
    assert (w["trajectory"], t) == (0, 7)
    pos = traj["positions"]
    np.testing.assert_array_equal(w["history"].numpy(), pos[t - 3 : t + 1])
    np.testing.assert_allclose(w["velocities"].numpy(), np.diff(pos[t - 3 : t + 1], axis=0), atol=1e-7)
    np.testing.assert_allclose(w["acceleration"].numpy(), pos[t + 1] - 2 * pos[t] + pos[t - 1], atol=1e-7)
    np.testing.assert_array_equal(w["target"].numpy(), pos[t + 1])
    np.testing.assert_array_equal(w["reference"].numpy(), pos[0])


def test_sparse_windows_keep_the_same_fps_particles_in_every_frame(small_dataset):
    from graphops.sampling import farthest_point_sampling

    ds = TrajectoryDataset(small_dataset)
    windows = TrajectoryWindows(ds, history=2, num_samples=20)
    a, b = windows.window(1, 2), windows.window(1, 8)
    expected = np.sort(farthest_point_sampling(ds[1]["positions"][0], 20))
    np.testing.assert_array_equal(a["sparse_index"].numpy(), expected)
    np.testing.assert_array_equal(b["sparse_index"].numpy(), expected)
    np.testing.assert_array_equal(b["history"][-1].numpy(), ds[1]["positions"][8][expected])
    assert a["material"].shape == (20,)


def test_windows_need_enough_frames():
    traj = {"positions": np.zeros((4, 5, 2), np.float32), "material": np.zeros(5, np.int64),
            "bounds": np.array([[0, 0], [1, 1]], np.float32)}
    with pytest.raises(DataError, match="4 frames"):
        TrajectoryWindows([traj], history=3)
    with pytest.raises(DataError, match="NaN"):
        TrajectoryWindows([{**traj, "positions": np.full((6, 5, 2), np.nan)}], history=3)


def test_module_entry_point(tmp_path, capsys):
    assert main(["--n", "1", "--out", str(tmp_path / "cli"), "--tiny", "--particles", "40", "--n-frames", "4",
                 "--quiet"]) == 0
    assert "trajectories ready" in capsys.readouterr().out
    assert len(TrajectoryDataset(tmp_path / "cli")) == 1
    assert main(["--n", "1", "--out", str(tmp_path / "cli"), "--tiny", "--seed", "1", "--quiet"]) == 2
    assert "graphops: error:" in capsys.readouterr().err
