"""Node-permutation equivariance of every mesh model: renumbering the nodes renumbers the output.

A graph's node order carries no physics. If the nodes of a sample are renumbered (every
node-level tensor permuted, ``edge_index`` relabelled), a correct model returns the same
prediction, renumbered the same way. A model that leaks node order (an index used as a
feature, a reduction over the wrong axis, boundary tokens picked by position) fails here.
"""
from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from graphops.models import build_model

SMALL = {
    "beno": {"hidden": 16, "layers": 2},
    "meshgraphnet": {"hidden": 16, "layers": 2},
    "gno": {"hidden": 16, "iterations": 2},
    "nuno": {"grid_shape": 8, "n_modes": 4, "hidden": 8, "layers": 2, "n_subdomains": 4, "decomposition": "sample"},
    "fno_global": {"grid_shape": 8, "n_modes": 4, "hidden": 8, "layers": 2},
}


def permute_nodes(data: Data, perm: torch.Tensor) -> Data:
    """The same graph with node ``i`` of the result being node ``perm[i]`` of ``data``."""
    n = data.num_nodes
    new_label = torch.empty_like(perm)
    new_label[perm] = torch.arange(n)
    out = Data(num_nodes=n)
    for key, value in data.items():
        if key == "num_nodes":
            continue
        if key == "edge_index":
            out.edge_index = new_label[value]
        elif isinstance(value, torch.Tensor) and value.dim() >= 1 and value.shape[0] == n and key != "edge_attr":
            out[key] = value[perm]
        else:
            out[key] = value
    return out


def _check(model: torch.nn.Module, data: Data, atol: float) -> None:
    perm = torch.randperm(data.num_nodes, generator=torch.Generator().manual_seed(3))
    assert not torch.equal(perm, torch.arange(data.num_nodes))
    model.eval()
    with torch.no_grad():
        out = model(data)
        out_perm = model(permute_nodes(data, perm))
    assert out.abs().max() > 1e-3  # a model returning ~0 everywhere would pass trivially
    torch.testing.assert_close(out_perm, out[perm], atol=atol, rtol=0)


def test_permute_nodes_keeps_the_edges_between_the_same_points(square):
    perm = torch.randperm(square.num_nodes, generator=torch.Generator().manual_seed(0))
    moved = permute_nodes(square, perm)
    src, dst = square.edge_index
    msrc, mdst = moved.edge_index
    torch.testing.assert_close(moved.pos[msrc] - moved.pos[mdst], square.pos[src] - square.pos[dst], atol=0, rtol=0)
    assert torch.equal(moved.f, square.f[perm]) and torch.equal(moved.boundary_mask, square.boundary_mask[perm])


@pytest.mark.parametrize("name", ["beno", "meshgraphnet", "gno"])
def test_mesh_models_are_permutation_equivariant(name, square):
    torch.manual_seed(0)
    model = build_model({"name": name, **SMALL[name]})
    _check(model, square, atol=1e-5)


def test_beno_pooled_boundary_encoder_is_permutation_equivariant(square):
    torch.manual_seed(0)
    model = build_model({"name": "beno", "boundary_attention": "pool", **SMALL["beno"]})
    _check(model, square, atol=1e-5)


def test_mesh_models_are_permutation_equivariant_in_3d(cube):
    for name in ("beno", "meshgraphnet", "gno"):
        torch.manual_seed(0)
        _check(build_model({"name": name, "dim": 3, **SMALL[name]}), cube, atol=1e-5)


@pytest.mark.parametrize("name", ["nuno", "fno_global"])
def test_grid_operators_are_permutation_equivariant(name):
    """NUNO's K-D split and grids depend on the point set, not its order: outputs permute."""
    gen = torch.Generator().manual_seed(1)
    pos = torch.rand(180, 2, generator=gen) ** 2
    data = Data(pos=pos, num_nodes=180, f=torch.sin(3 * pos[:, 0]) + pos[:, 1])
    torch.manual_seed(0)
    model = build_model({"name": name, "dim": 2, "in_fields": ["f"], **SMALL[name]})
    _check(model, data, atol=1e-5)
