"""Run config validation: defaults, and a ConfigError that names the offending key."""
import pytest

from graphops.errors import ConfigError
from graphops.train.config import config_differences, load_run_config

EXAMPLE = """
data: {root: runs/data/poisson-dirichlet, train_families: [4], test_families: [0,1,2,3,4], val_fraction: 0.1}
model: {name: beno, hidden: 64, layers: 4}
train: {epochs: 30, batch_size: 8, lr: 1.0e-3, weight_decay: 1.0e-4, scheduler: cosine, patience: 10, seed: 0, device: auto, loss: rel_l2}
out: runs/beno
"""


def test_the_documented_example_loads(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(EXAMPLE)
    cfg = load_run_config(path)
    assert cfg["data"]["train_families"] == [4] and cfg["train"]["lr"] == 1e-3
    assert cfg["model"] == {"name": "beno", "hidden": 64, "layers": 4}
    assert cfg["train"]["grad_clip"] is None and cfg["out"] == "runs/beno"


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda c: c["train"].update(lr=-1), "train.lr"),
        (lambda c: c["train"].update(epochs=0), "train.epochs"),
        (lambda c: c["train"].update(scheduler="warm"), "train.scheduler"),
        (lambda c: c["train"].update(lr_rate=1), "train.lr_rate: unknown key"),
        (lambda c: c["train"].update(device="tpu"), "train.device"),
        (lambda c: c["data"].update(val_fraction=1.0), "data.val_fraction"),
        (lambda c: c["data"].update(train_families=["a"]), "data.train_families"),
        (lambda c: c["data"].pop("root"), "data.root"),
        (lambda c: c["model"].pop("name"), "model.name"),
        (lambda c: c.pop("out"), "out: missing section"),
        (lambda c: c.update(extra=1), "extra: unknown section"),
    ],
)
def test_errors_name_the_key_and_file(tmp_path, edit, key):
    import yaml

    cfg = yaml.safe_load(EXAMPLE)
    edit(cfg)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=key) as err:
        load_run_config(path)
    assert str(path) in str(err.value)


def test_file_problems(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_run_config(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {root: [\n")
    with pytest.raises(ConfigError, match="run config is not valid YAML at line"):
        load_run_config(bad)


def test_differences_ignore_runtime_keys():
    import yaml

    a = load_run_config(yaml.safe_load(EXAMPLE))
    b = load_run_config(yaml.safe_load(EXAMPLE))
    b["out"], b["train"]["device"] = "elsewhere", "cpu"
    assert config_differences(a, b) == []
    b["model"]["hidden"] = 32
    assert config_differences(a, b) == ["model.hidden"]


def test_every_key_has_one_type_and_default_per_task():
    from graphops.train.config import SCHEMA, defaults

    names = [(k.section, k.name) for k in SCHEMA]
    assert len(names) == len(set(names))  # stated once
    fields, particles = defaults("train", "fields"), defaults("train", "particles")
    assert fields["optimizer"] == "adamw" and particles["optimizer"] == "adam"
    assert "epochs" in fields and "epochs" not in particles and "steps" in particles
    assert fields["grad_clip"] is None and particles["grad_clip"] == 10.0


def test_dotted_overrides_are_typed_by_the_schema(tmp_path):
    import yaml

    path = tmp_path / "run.yaml"
    path.write_text(EXAMPLE)
    cfg = load_run_config(path, ["train.lr=2e-3", "model.hidden=128", "data.train_families=0,1",
                                 "train.patience=null", "data.cache=false", "out=elsewhere"])
    assert cfg["train"]["lr"] == 2e-3 and cfg["model"]["hidden"] == 128
    assert cfg["data"]["train_families"] == [0, 1] and cfg["train"]["patience"] is None
    assert cfg["data"]["cache"] is False and cfg["out"] == "elsewhere"
    assert yaml.safe_load(EXAMPLE)["train"]["lr"] == 1e-3  # the file is untouched
    with pytest.raises(ConfigError, match="train.lr: must be > 0, got 0"):
        load_run_config(path, ["train.lr=0"])
    from graphops.models import default_config

    hidden = default_config("beno")["hidden"]
    with pytest.raises(ConfigError, match=f"model.hidden: must be an integer like its default {hidden}, got 'many'"):
        load_run_config(path, ["model.hidden=many"])


@pytest.mark.parametrize(
    "override, fragments",
    [
        ("train.lr_rate=1", ["train.lr_rate: unknown key", "known train keys:", "epochs"]),
        ("model.hiden=3", ["model.hiden: unknown key for model 'beno'", "hidden"]),
        ("optim.lr=1", ["unknown section 'optim'"]),
        ("train.lr", ["expected section.key=value"]),
        ("train.steps=10", ["train.steps: unknown key for a fields run"]),
    ],
)
def test_unknown_override_keys_name_the_key_and_the_known_ones(tmp_path, override, fragments):
    path = tmp_path / "run.yaml"
    path.write_text(EXAMPLE)
    with pytest.raises(ConfigError) as err:
        load_run_config(path, [override])
    for fragment in fragments:
        assert fragment in str(err.value)
    assert str(path) in str(err.value)


def test_a_particle_config_gets_the_particle_section():
    cfg = load_run_config({"data": {"root": "d"}, "model": {"name": "gns"}, "out": "o"})
    assert cfg["train"]["steps"] == 1000 and cfg["train"]["scheduler"] == "exponential"
    assert cfg["data"]["val_fraction"] == 0.2 and "families" not in cfg["data"]
    with pytest.raises(ConfigError, match="train.loss: unknown key"):
        load_run_config({"data": {"root": "d"}, "model": {"name": "gns"}, "train": {"loss": "mse"}, "out": "o"})
