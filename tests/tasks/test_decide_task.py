"""decide_task: the one place that tells a fields run from a particles run."""
import pytest

from graphops.errors import CheckpointError, ConfigError, DataError
from graphops.models import available_models, model_class, model_task
from graphops.tasks import TASKS, FieldsTask, ParticlesTask, decide_task, task_of_problem


def test_every_registered_model_declares_a_known_task():
    for name in available_models():
        assert model_task(name) in TASKS, name
        assert model_class(name).task == model_task(name)
    assert {n for n in available_models() if model_task(n) == "particles"} == {"giorom", "gns"}


def test_the_task_follows_from_config_checkpoint_and_problem():
    assert decide_task(config={"model": {"name": "beno"}}) is FieldsTask
    assert decide_task(config={"model": {"name": "giorom"}}) is ParticlesTask
    assert decide_task(checkpoint={"model_name": "gns"}) is ParticlesTask
    assert decide_task(checkpoint={"model_name": "nuno"}) is FieldsTask
    assert decide_task(problem="mpm-trajectories") is ParticlesTask
    assert decide_task(problem="elasticity-holes") is FieldsTask
    assert task_of_problem("poisson-dirichlet") == "fields"


def _dataset(tmp_path, problem):
    """A folder with just a manifest of ``problem`` (what decide_task reads)."""
    import json

    from graphops.data.generate import FORMAT, FORMAT_VERSION, MANIFEST

    root = tmp_path / problem
    root.mkdir()
    (root / MANIFEST).write_text(json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, "problem": problem}))
    return root


def test_the_dataset_manifest_decides_and_mismatches_are_refused(tmp_path):
    meshes, particles = _dataset(tmp_path, "poisson-dirichlet"), _dataset(tmp_path, "mpm-trajectories")
    assert decide_task(dataset=particles) is ParticlesTask
    assert decide_task(dataset=meshes) is FieldsTask
    with pytest.raises(DataError, match="giorom is a particle-dynamics model: evaluate it on a trajectory dataset"):
        decide_task(checkpoint={"model_name": "giorom"}, dataset=meshes, path="g.pt")
    with pytest.raises(CheckpointError, match="'gno' model; a trajectory dataset needs a particle dynamics model"):
        decide_task(checkpoint={"model_name": "gno"}, dataset=particles, path="gno.pt")
    with pytest.raises(ConfigError, match="model.name: gns is a particles model but data.root holds a fields"):
        decide_task(config={"model": {"name": "gns"}}, dataset=meshes)


def test_a_command_that_needs_one_task_refuses_the_other(tmp_path):
    with pytest.raises(CheckpointError, match="'giorom' particle dynamics model; predict needs a field model"):
        decide_task(checkpoint={"model_name": "giorom"}, require="fields", command="predict", path="g.pt")
    with pytest.raises(CheckpointError, match="'beno' model; rollout needs a particle dynamics model"):
        decide_task(checkpoint={"model_name": "beno"}, require="particles", command="rollout", path="b.pt")
    with pytest.raises(ConfigError, match="model.name: unknown model 'nope'"):
        decide_task(config={"model": {"name": "nope"}})
