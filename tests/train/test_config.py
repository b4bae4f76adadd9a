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
    with pytest.raises(ConfigError, match="invalid YAML at line"):
        load_run_config(bad)


def test_differences_ignore_runtime_keys():
    import yaml

    a = load_run_config(yaml.safe_load(EXAMPLE))
    b = load_run_config(yaml.safe_load(EXAMPLE))
    b["out"], b["train"]["device"] = "elsewhere", "cpu"
    assert config_differences(a, b) == []
    b["model"]["hidden"] = 32
    assert config_differences(a, b) == ["model.hidden"]
