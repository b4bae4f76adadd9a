"""NaN inputs and diverging losses on the paths the trainer tests do not cover.

(The mesh-field Trainer is covered in tests/train/test_trainer.py: NaN in a
sample and lr=1e30 divergence, both named with epoch, step and samples.) Here:
the particle-dynamics trainer (GIOROM, GNS) and NaN fields given to predict.
"""
from pathlib import Path

import numpy as np
import pytest
import torch

from graphops.errors import ConfigError, DataError
from graphops.io import read_mesh, write_mesh
from graphops.models import build_model
from graphops.predict import predict
from graphops.solvers.mpm import simulate_trajectory
from graphops.train.checkpoint import save_checkpoint
from graphops.train.dynamics import train_dynamics
from hardening_helpers import STATS, assert_clean_error

torch.set_num_threads(1)

MODELS = {
    "gns": {"name": "gns", "hidden": 8, "layers": 1, "material_dim": 4, "radius": "auto"},
    "giorom": {"name": "giorom", "hidden": 8, "layers": 1, "material_dim": 4, "num_samples": 20,
               "radius": "auto", "decoder_radius": "auto", "decoder_hidden": 4},
}


@pytest.fixture(scope="module")
def trajectories():
    return [simulate_trajectory({"n_particles": 60, "materials": ["jelly"], "n_objects": 1}, seed=s, n_frames=10)
            for s in (0, 1)]


@pytest.mark.parametrize("model", sorted(MODELS))
def test_nan_in_a_trajectory_names_trajectory_frame_and_particle(tmp_path, trajectories, model):
    bad = [dict(t) for t in trajectories]
    pos = np.array(bad[1]["positions"], dtype=np.float64)
    pos[6, 13, 1] = np.nan
    bad[1]["positions"] = pos
    STATS["NaN / divergence faults injected"] += 1
    with pytest.raises(DataError, match=r"trajectory 1: positions contain NaN/inf \(first at frame 6, particle 13\)") as err:
        train_dynamics(dict(MODELS[model]), bad, tmp_path / "m.pt", steps=2, progress=False)
    assert_clean_error(err.value)
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize("model", sorted(MODELS))
def test_diverging_particle_training_names_step_and_windows(tmp_path, trajectories, model):
    STATS["NaN / divergence faults injected"] += 1
    with pytest.raises(DataError, match=r"training loss became (nan|inf) at step \d+; batch windows "
                                        r"\(trajectory, frame\): \(\d, \d+\)") as err:
        train_dynamics(dict(MODELS[model]), trajectories, tmp_path / "m.pt", steps=30, lr=1e6, lr_final=1e6,
                       progress=False)
    assert_clean_error(err.value)
    assert not (tmp_path / "m.pt").exists()


def test_nan_in_a_mesh_field_given_to_predict_names_the_node(tmp_path):
    mesh = read_mesh(Path(__file__).resolve().parents[2] / "meshes" / "t1.geo")
    source = np.sin(mesh.points[:, 0])
    source[17] = np.nan
    path = write_mesh(tmp_path / "with_nan.vtu", mesh, point_data={"f": source})
    ckpt = save_checkpoint(tmp_path / "gno.pt", build_model({"name": "gno", "hidden": 4}),
                           extra={"dataset": {"problem": "poisson-dirichlet"}})
    STATS["NaN / divergence faults injected"] += 2
    with pytest.raises(DataError, match="the source has NaN or infinite values \\(first at node 17\\)") as err:
        predict(ckpt, path, source="f", boundary="x", out=tmp_path / "p.vtu")
    assert_clean_error(err.value, "with_nan.vtu")
    with pytest.raises(ConfigError, match="boundary values 'log\\(x - 10\\)' is not finite at node") as err:
        predict(ckpt, path, boundary="log(x - 10)", out=tmp_path / "p.vtu")
    assert_clean_error(err.value)
    assert not (tmp_path / "p.vtu").exists()
