"""``graphops rollout CKPT INITIAL --steps N -o OUT`` and the library function behind it."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import meshio
import numpy as np
import pytest
import torch

from graphops.cli import main
from graphops.errors import CheckpointError
from graphops.io import write_mesh
from graphops.mesh import Mesh
from graphops.models import build_model
from graphops.rollout import initial_history, rollout
from graphops.solvers.mpm import simulate_trajectory
from graphops.train.checkpoint import save_checkpoint
from graphops.train.dynamics import train_dynamics

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("rollout")
    traj = simulate_trajectory({"n_particles": 100, "materials": ["jelly"], "n_objects": 1}, seed=4, n_frames=10)
    ckpt = train_dynamics({"name": "giorom", "hidden": 16, "layers": 2, "material_dim": 4, "num_samples": 30,
                           "radius": "auto", "decoder_radius": "auto", "decoder_hidden": 8},
                          [traj], root / "giorom.pt", steps=3, progress=False)
    pos0 = traj["positions"][0].astype(np.float64)
    vel0 = traj["velocities"][0].astype(np.float64)
    initial = root / "initial.vtu"
    write_mesh(initial, Mesh(pos0, {}), point_data={"velocity": vel0, "material": traj["material"]})
    return root, ckpt, initial, pos0

def _pvd_files(pvd):
    return [(float(d.get("timestep")), d.get("file")) for d in ET.parse(pvd).getroot().iter("DataSet")]


def test_cli_writes_a_vtu_series_pvd_and_gif(setup, tmp_path, capsys):
    _, ckpt, initial, pos0 = setup
    out = tmp_path / "out"
    assert main(["rollout", str(ckpt), str(initial), "--steps", "3", "-o", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"giorom: 3 steps of {len(pos0)} points" in printed and "rollout.gif" in printed
    entries = _pvd_files(out / "rollout.pvd")
    assert [f for _, f in entries] == [f"frame_{k:04d}.vtu" for k in range(4)]
    assert [t for t, _ in entries] == pytest.approx([0.0, 0.01, 0.02, 0.03])
    frames = [meshio.read(out / f) for _, f in entries]
    np.testing.assert_allclose(frames[0].points[:, :2], pos0, atol=1e-6)
    assert {"displacement", "velocity", "material", "sparse_particle"} <= set(frames[-1].point_data)
    assert int(frames[-1].point_data["sparse_particle"].sum()) == 30
    assert all(np.isfinite(f.points).all() and len(f.points) == len(pos0) for f in frames)
    assert (out / "rollout.gif").stat().st_size > 0
    assert not list(out.glob(".*tmp*"))  # atomic writes leave no temporaries


def test_library_rollout_is_deterministic_and_decodes_query_points(setup, tmp_path):
    _, ckpt, initial, pos0 = setup
    a = rollout(ckpt, initial, 4, tmp_path / "a", animation=False, progress=False)
    b = rollout(ckpt, initial, 4, tmp_path / "b", animation=False, progress=False)
    assert a.positions.shape == (5, len(pos0), 2)
    np.testing.assert_array_equal(a.positions, b.positions)
    q = pos0[:5] * 0.999 + 0.0005
    c = rollout(ckpt, initial, 4, tmp_path / "c", query_points=q, animation=False, progress=False)
    assert c.positions.shape == (5, 5, 2) and c.pvd.name == "query.pvd"
    np.testing.assert_allclose(c.positions[0], q, atol=1e-6)


def test_initial_history_moves_back_at_the_given_velocity():
    pts = np.array([[0.5, 0.5]])
    h = initial_history(pts, 3, 0.01, np.array([[1.0, -2.0]]))
    np.testing.assert_allclose(h[:, 0], [[0.47, 0.56], [0.48, 0.54], [0.49, 0.52], [0.5, 0.5]])


def test_3d_particles_for_a_2d_checkpoint(setup, tmp_path, capsys):
    _, ckpt, _, pos0 = setup
    bad = tmp_path / "cube.vtu"
    write_mesh(bad, Mesh(np.hstack([pos0, np.linspace(0.2, 0.4, len(pos0))[:, None]]), {}))
    assert main(["rollout", str(ckpt), str(bad), "--steps", "2", "-o", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("graphops: error:") and "2D but the initial particles are 3D" in err and "cube.vtu" in err


def test_query_points_outside_the_domain(setup, tmp_path, capsys):
    _, ckpt, initial, _ = setup
    q = tmp_path / "far.npy"
    np.save(q, np.array([[5.0, 5.0]]))
    assert main(["rollout", str(ckpt), str(initial), "--steps", "1", "-o", str(tmp_path / "o"), "--query", str(q),
                 "--quiet"]) == 2
    assert "outside the particles' bounding box" in capsys.readouterr().err


def test_nan_particles_and_missing_files(setup, tmp_path, capsys):
    _, ckpt, _, pos0 = setup
    bad = tmp_path / "nan.npy"
    arr = pos0.copy()
    arr[3, 1] = np.nan
    np.save(bad, arr)
    assert main(["rollout", str(ckpt), str(bad), "--steps", "1", "-o", str(tmp_path / "o"), "--quiet"]) == 2
    assert "NaN" in capsys.readouterr().err
    assert main(["rollout", str(tmp_path / "none.pt"), str(bad), "--steps", "1", "-o", str(tmp_path / "o")]) == 2
    assert "checkpoint file not found" in capsys.readouterr().err


def test_a_field_model_checkpoint_is_refused(setup, tmp_path):
    _, _, initial, _ = setup
    ckpt = save_checkpoint(tmp_path / "gno.pt", build_model({"name": "gno", "hidden": 4}))
    with pytest.raises(CheckpointError, match="'gno' model; rollout needs a particle dynamics model"):
        rollout(ckpt, initial, 1, tmp_path / "o", progress=False)
