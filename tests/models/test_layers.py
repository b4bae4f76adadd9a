"""Shared graph-model layers against independent oracles.

``mlp`` is checked against its formula written out with hand-set weights, ``aggregate``
against sums and means of a few messages worked out by hand, and ``MessagePassingBlock``
/ ``EncodeProcessDecode`` against a plain edge-by-edge loop over the documented update
``e_ij' = e_ij + MLP_e([h_i, h_j, e_ij])``, ``h_i' = h_i + MLP_v([h_i, AGG_j MLP_e(...), c_i])``
(``i`` the target, ``j`` the source) on a small directed graph, where swapping source and
target, or a sign, changes the answer.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from graphops.errors import ConfigError
from graphops.models.layers import EncodeProcessDecode, MessagePassingBlock, aggregate, check_positive, mlp

# A directed graph of 4 nodes: node 0 gets two messages, node 1 one, node 2 one, node 3 none.
EDGES = torch.tensor([[1, 2, 0, 3], [0, 0, 1, 2]])


def _kinds(module: nn.Sequential) -> list:
    return [type(m).__name__ for m in module]


def _silu(v: float) -> float:
    return v / (1.0 + math.exp(-v))


def test_mlp_default_is_two_linear_layers_with_layer_norm():
    assert _kinds(mlp(3, 4, 5)) == ["Linear", "SiLU", "Linear", "LayerNorm"]
    assert _kinds(mlp(3, 4, 5, num_layers=3, layer_norm=False)) == ["Linear", "SiLU", "Linear", "SiLU", "Linear"]
    assert _kinds(mlp(3, 4, 5, num_layers=1)) == ["Linear", "LayerNorm"]


def test_mlp_matches_its_formula_with_hand_set_weights():
    net = mlp(1, 2, 2, num_layers=2, layer_norm=True).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0], [-2.0]]))
        net[0].bias.copy_(torch.tensor([0.0, 1.0]))
        net[2].weight.copy_(torch.tensor([[3.0, 0.5], [-1.0, 2.0]]))
        net[2].bias.copy_(torch.tensor([-1.0, 0.25]))
    x = 0.7
    s0, s1 = _silu(1.0 * x + 0.0), _silu(-2.0 * x + 1.0)
    y0, y1 = 3.0 * s0 + 0.5 * s1 - 1.0, -1.0 * s0 + 2.0 * s1 + 0.25
    mean, var = (y0 + y1) / 2, ((y0 - y1) / 2) ** 2
    expected = [(y - mean) / math.sqrt(var + 1e-5) for y in (y0, y1)]
    got = net(torch.tensor([[x]], dtype=torch.float64))[0].tolist()
    assert got == pytest.approx(expected, rel=1e-12)
    # the same weights without the LayerNorm give the raw outputs
    assert net[:3](torch.tensor([[x]], dtype=torch.float64))[0].tolist() == pytest.approx([y0, y1], rel=1e-12)


def test_aggregate_sum_and_mean_by_hand():
    messages = torch.tensor([[1.0, -2.0], [3.0, 4.0], [10.0, 0.5]])
    index = torch.tensor([0, 0, 2])  # node 1 and node 3 (the last) get nothing
    total = aggregate(messages, index, 4, "sum")
    assert total.tolist() == [[4.0, 2.0], [0.0, 0.0], [10.0, 0.5], [0.0, 0.0]]
    mean = aggregate(messages, index, 4, "mean")
    assert mean.tolist() == [[2.0, 1.0], [0.0, 0.0], [10.0, 0.5], [0.0, 0.0]]
    assert aggregate(messages, index, 4).tolist() == mean.tolist()  # mean is the default
    one_dim = aggregate(torch.tensor([2.0, 6.0, 5.0]), torch.tensor([1, 1, 3]), 4, "mean")
    assert one_dim.tolist() == [0.0, 4.0, 0.0, 5.0]


def _reference_block(block: MessagePassingBlock, h, e, edge_index, cond, aggr):
    """The documented update computed edge by edge with the block's own MLPs."""
    n = h.shape[0]
    messages = [block.edge_mlp(torch.cat([h[i], h[j], e[k]])) for k, (j, i) in enumerate(edge_index.t().tolist())]
    new_h = []
    for i in range(n):
        incoming = [messages[k] for k in range(edge_index.shape[1]) if int(edge_index[1, k]) == i]
        if incoming:
            agg = torch.stack(incoming).sum(0) / (len(incoming) if aggr == "mean" else 1)
        else:
            agg = torch.zeros(h.shape[1], dtype=h.dtype)
        parts = [h[i], agg] + ([cond[i]] if cond is not None else [])
        new_h.append(h[i] + block.node_mlp(torch.cat(parts)))
    return torch.stack(new_h), e + torch.stack(messages)


def _inputs(hidden: int, cond_dim: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(4, hidden, generator=gen, dtype=torch.float64)
    e = torch.randn(EDGES.shape[1], hidden, generator=gen, dtype=torch.float64)
    cond = torch.randn(4, cond_dim, generator=gen, dtype=torch.float64) if cond_dim else None
    return h, e, cond


@pytest.mark.parametrize("aggr", ["mean", "sum"])
@pytest.mark.parametrize("cond_dim", [0, 2])
def test_message_passing_block_matches_an_edge_by_edge_loop(aggr, cond_dim):
    torch.manual_seed(1)
    block = MessagePassingBlock(3, cond_dim=cond_dim, aggr=aggr).double()
    h, e, cond = _inputs(3, cond_dim)
    got_h, got_e = block(h, e, EDGES, cond)
    want_h, want_e = _reference_block(block, h, e, EDGES, cond, aggr)
    torch.testing.assert_close(got_h, want_h, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got_e, want_e, rtol=1e-10, atol=1e-12)
    # the graph is directed: reversing every edge gives a different answer
    flipped_h, _ = block(h, e, EDGES.flip(0), cond)
    assert not torch.allclose(flipped_h, got_h)


def test_message_passing_block_defaults():
    block = MessagePassingBlock(3)
    assert _kinds(block.edge_mlp) == ["Linear", "SiLU", "Linear", "LayerNorm"]
    assert _kinds(block.node_mlp) == ["Linear", "SiLU", "Linear", "LayerNorm"]
    assert block.node_mlp[0].in_features == 6  # [h_i, agg_i], no conditioning
    h, e, _ = _inputs(3, 0)
    got_h, _ = block.double()(h, e, EDGES)  # no cond: runs and uses the mean
    torch.testing.assert_close(got_h, _reference_block(block, h, e, EDGES, None, "mean")[0], rtol=1e-10, atol=1e-12)


def test_mlp_layers_reach_every_mlp():
    model = EncodeProcessDecode(2, 1, 4, layers=1, out_channels=1, cond_dim=2, mlp_layers=3)
    block = model.processor[0]
    for net in (model.node_encoder, model.edge_encoder, block.edge_mlp, block.node_mlp, model.decoder):
        assert _kinds(net)[:5] == ["Linear", "SiLU", "Linear", "SiLU", "Linear"]
    assert _kinds(model.decoder) == ["Linear", "SiLU", "Linear", "SiLU", "Linear"]  # no LayerNorm on the output
    assert block.node_mlp[0].in_features == 2 * 4 + 2
    default = EncodeProcessDecode(2, 1, 4, layers=1, out_channels=1)
    assert _kinds(default.node_encoder) == ["Linear", "SiLU", "Linear", "LayerNorm"]
    assert _kinds(default.decoder) == ["Linear", "SiLU", "Linear"]


@pytest.mark.parametrize("aggr", ["mean", "sum"])
def test_encode_process_decode_matches_its_parts(aggr):
    torch.manual_seed(2)
    model = EncodeProcessDecode(2, 1, 3, layers=2, out_channels=1, cond_dim=2, aggr=aggr, mlp_layers=2).double()
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(4, 2, generator=gen, dtype=torch.float64)
    edge_attr = torch.randn(EDGES.shape[1], 1, generator=gen, dtype=torch.float64)
    cond = torch.randn(4, 2, generator=gen, dtype=torch.float64)
    h, e = model.node_encoder(x), model.edge_encoder(edge_attr)
    for block in model.processor:
        h, e = _reference_block(block, h, e, EDGES, cond, aggr)
    torch.testing.assert_close(model(x, edge_attr, EDGES, cond), model.decoder(h), rtol=1e-10, atol=1e-12)


def test_encode_process_decode_aggregates_by_mean_by_default():
    torch.manual_seed(4)
    model = EncodeProcessDecode(2, 1, 3, layers=1, out_channels=1).double()
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(4, 2, generator=gen, dtype=torch.float64)
    edge_attr = torch.randn(EDGES.shape[1], 1, generator=gen, dtype=torch.float64)
    h, _ = _reference_block(model.processor[0], model.node_encoder(x), model.edge_encoder(edge_attr), EDGES, None, "mean")
    torch.testing.assert_close(model(x, edge_attr, EDGES), model.decoder(h), rtol=1e-10, atol=1e-12)


def test_check_positive_wants_positive_integers():
    check_positive("m", layers=3, hidden=1)
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ConfigError, match="layers must be a positive integer"):
            check_positive("m", layers=bad)
