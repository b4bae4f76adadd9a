"""GNO (graph kernel network) baseline: shapes, batching, gradients, config, errors, overfit."""
from __future__ import annotations

import pytest
import torch

from graphops.errors import ConfigError, DataError
from graphops.models import GNO, build_model


def small(**kw):
    torch.manual_seed(0)
    return build_model({"name": "gno", "hidden": 12, "iterations": 3, "kernel_hidden": 32, **kw})


def test_default_config_builds():
    model = build_model({"name": "gno"})
    assert isinstance(model, GNO)
    assert model.config["dim"] == 2


def test_output_shape_2d(square):
    out = small(out_channels=2)(square)
    assert out.shape == (square.num_nodes, 2)
    assert torch.isfinite(out).all()


def test_output_shape_3d(cube):
    assert small(dim=3)(cube).shape == (cube.num_nodes, 1)


def test_batching_invariance(square, square_fine, checks):
    checks.batching_invariant(small(), [square, square_fine])


def test_batching_invariance_3d(cube, checks):
    other = cube.clone()
    other.f = cube.f * 0.5
    checks.batching_invariant(small(dim=3), [cube, other])


def test_gradients_reach_every_parameter(square, checks):
    checks.all_grads(small(), square)


def test_config_round_trip(square, checks):
    checks.config_round_trip(small(kernel_layers=2), square)


def test_kernel_integral_uses_neighbours(square):
    """Changing f at one node changes the output at its neighbours (and only nearby)."""
    model = small(iterations=1).eval()
    node = 50
    bumped = square.clone()
    bumped.f = square.f.clone()
    bumped.f[node] += 3.0
    with torch.no_grad():
        diff = (model(bumped) - model(square)).abs().reshape(-1)
    src, dst = square.edge_index
    neighbours = dst[src == node]
    assert (diff[neighbours] > 0).all()
    far = torch.ones(square.num_nodes, dtype=torch.bool)
    far[neighbours] = False
    far[node] = False
    assert (diff[far] == 0).all()  # one iteration reaches one hop only


def test_dimension_mismatch(square, cube):
    with pytest.raises(DataError, match="built for 2D meshes, got 3D points"):
        small()(cube)


@pytest.mark.parametrize("field", ["f", "pos", "edge_index"])
def test_missing_field(square, field):
    del square[field]
    with pytest.raises(DataError, match=field):
        small()(square)


def test_bad_config_values():
    with pytest.raises(ConfigError, match="iterations"):
        build_model({"name": "gno", "iterations": -1})


def test_overfits_harmonic_sample(harmonic, checks):
    assert checks.overfit(small(), harmonic, steps=300, lr=5e-3) < 0.1
