"""Model registry: build_model, config validation, registering new models."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from graphops.errors import ConfigError
from graphops.models import available_models, build_model, default_config, model_class, register_model
from graphops.models import registry


@pytest.mark.parametrize("name", ["beno", "meshgraphnet", "gno"])
def test_builtin_models_build_from_name_alone(name):
    model = build_model({"name": name})
    assert isinstance(model, nn.Module)
    assert model.config == default_config(name)
    assert json.loads(json.dumps(model.config)) == model.config
    assert model.config["name"] == name and model.config["dim"] == 2


def test_available_models_lists_the_builtins():
    assert {"beno", "meshgraphnet", "gno"} <= set(available_models())


def test_config_records_overrides_and_defaults():
    model = build_model({"name": "meshgraphnet", "hidden": 16, "dim": 3})
    assert model.config["hidden"] == 16 and model.config["dim"] == 3
    assert model.config["layers"] == default_config("meshgraphnet")["layers"]


def test_direct_construction_stores_config_too():
    model = model_class("gno")(hidden=8, dim=3)
    assert model.config == {**default_config("gno"), "hidden": 8, "dim": 3}


def test_unknown_name_lists_choices():
    with pytest.raises(ConfigError, match="unknown model 'fno'.*beno.*gno.*meshgraphnet"):
        build_model({"name": "fno"})


def test_missing_name_lists_choices():
    with pytest.raises(ConfigError, match="no 'name'.*beno"):
        build_model({"hidden": 3})


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match="unknown key\\(s\\) 'widht'.*valid keys: dim, hidden"):
        build_model({"name": "beno", "widht": 3})


def test_non_json_value_rejected():
    with pytest.raises(ConfigError, match="plain JSON"):
        build_model({"name": "beno", "hidden": torch.tensor(3)})


def test_non_dict_rejected():
    with pytest.raises(ConfigError, match="dict"):
        build_model(["beno"])  # type: ignore[arg-type]


def test_register_new_model():
    @register_model("toy_for_test")
    class Toy(nn.Module):
        def __init__(self, width: int = 3, scale: float = 1.0) -> None:
            super().__init__()
            self.lin = nn.Linear(width, 1)

    try:
        model = build_model({"name": "toy_for_test", "width": 5})
        assert isinstance(model, Toy)
        assert model.config == {"name": "toy_for_test", "width": 5, "scale": 1.0}
        assert "toy_for_test" in available_models()
        with pytest.raises(ValueError, match="already registered"):

            @register_model("toy_for_test")
            class Other(nn.Module):
                pass
    finally:
        registry._REGISTRY.pop("toy_for_test", None)


def test_register_rejects_arguments_without_defaults():
    with pytest.raises(ValueError, match="default"):

        @register_model("bad_toy_for_test")
        class Bad(nn.Module):
            def __init__(self, width: int) -> None:
                super().__init__()

    assert "bad_toy_for_test" not in available_models()
