"""MeshGraphNet baseline: shapes, batching, gradients, config, errors, overfit."""
from __future__ import annotations

import pytest
import torch

from graphops.errors import ConfigError, DataError
from graphops.models import MeshGraphNet, build_model


def small(**kw):
    torch.manual_seed(0)
    return build_model({"name": "meshgraphnet", "hidden": 32, "layers": 3, **kw})


@pytest.mark.parametrize("aggr", ["sum", "mean"])
def test_output_shape_2d(square, aggr):
    out = small(aggr=aggr, out_channels=2)(square)
    assert out.shape == (square.num_nodes, 2)
    assert torch.isfinite(out).all()


def test_output_shape_3d(cube):
    out = small(dim=3)(cube)
    assert out.shape == (cube.num_nodes, 1)


def test_default_config_builds():
    model = build_model({"name": "meshgraphnet"})
    assert isinstance(model, MeshGraphNet)
    assert model.config["aggr"] == "sum" and model.config["dim"] == 2


@pytest.mark.parametrize("aggr", ["sum", "mean"])
def test_batching_invariance(square, square_fine, aggr, checks):
    checks.batching_invariant(small(aggr=aggr), [square, square_fine])


def test_batching_invariance_3d(cube, square, checks):
    other = cube.clone()
    other.f = -cube.f
    checks.batching_invariant(small(dim=3), [cube, other])


def test_gradients_reach_every_parameter(square, checks):
    checks.all_grads(small(), square)


def test_config_round_trip(square, checks):
    checks.config_round_trip(small(aggr="mean"), square)


def test_sees_both_f_and_g(square):
    model = small().eval()
    with torch.no_grad():
        base = model(square)
        changed_f = square.clone()
        changed_f.f = square.f + 1.0
        changed_g = square.clone()
        changed_g.g = torch.where(square.boundary_mask, square.g + 1.0, square.g)
        assert not torch.allclose(model(changed_f), base)
        assert not torch.allclose(model(changed_g), base)


def test_dimension_mismatch(cube, square):
    with pytest.raises(DataError, match="built for 2D meshes, got 3D points"):
        small()(cube)
    with pytest.raises(DataError, match="built for 3D meshes, got 2D points"):
        small(dim=3)(square)


@pytest.mark.parametrize("field", ["f", "g", "bc_dirichlet", "boundary_distance", "edge_attr"])
def test_missing_field(square, field):
    del square[field]
    with pytest.raises(DataError, match=field):
        small()(square)


def test_wrong_field_length(square):
    square.f = square.f[:-1]
    with pytest.raises(DataError, match="one value per node"):
        small()(square)


def test_bad_config_values():
    with pytest.raises(ConfigError, match="aggr"):
        build_model({"name": "meshgraphnet", "aggr": "max"})
    with pytest.raises(ConfigError, match="dim"):
        build_model({"name": "meshgraphnet", "dim": 4})
    with pytest.raises(ConfigError, match="layers"):
        build_model({"name": "meshgraphnet", "layers": 0})


def test_overfits_harmonic_sample(harmonic, checks):
    assert checks.overfit(small(), harmonic, steps=200) < 0.1
