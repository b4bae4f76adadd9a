"""Relative L2 per graph averaged over a batch, MSE, and the metrics built on them."""
import math

import pytest
import torch
from torch_geometric.data import Batch

from graphops.errors import ConfigError
from graphops.train.losses import get_loss, mse_loss, relative_l2_loss
from graphops.train.metrics import MetricAccumulator, mae_per_graph, relative_l2_per_graph
from train_helpers import poisson_dataset


def test_relative_l2_is_mean_over_graphs_not_over_nodes():
    graphs = poisson_dataset(3)
    batch = Batch.from_data_list(graphs)
    # graph 0 exact, graph 1 off by 10 %, graph 2 off by 30 %
    pred = torch.cat([g.y * s for g, s in zip(graphs, (1.0, 1.1, 1.3))])
    loss = relative_l2_loss(pred, batch.y, batch.batch)
    assert float(loss) == pytest.approx((0.0 + 0.1 + 0.3) / 3, rel=1e-5)
    per_graph = relative_l2_per_graph(pred, batch.y, batch.batch)
    assert per_graph.tolist() == pytest.approx([0.0, 0.1, 0.3], abs=1e-6)


def test_relative_l2_matches_a_direct_computation_and_has_finite_gradient():
    g = poisson_dataset(1)[0]
    torch.manual_seed(0)
    pred = (g.y + 0.05 * torch.randn_like(g.y)).requires_grad_(True)
    loss = relative_l2_loss(pred, g.y)
    expected = torch.linalg.norm(pred - g.y) / torch.linalg.norm(g.y)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    exact = g.y.clone().requires_grad_(True)
    relative_l2_loss(exact, g.y).backward()  # zero error: no NaN gradient
    assert torch.isfinite(exact.grad).all()


def test_mse_and_mae():
    target = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    pred = torch.tensor([[1.0], [2.5], [3.0], [2.0]])
    batch = torch.tensor([0, 0, 1, 1])
    assert float(mse_loss(pred, target)) == pytest.approx((0.25 + 4.0) / 4)
    assert mae_per_graph(pred, target, batch).tolist() == pytest.approx([0.25, 1.0])


def test_accumulator_groups_by_family():
    graphs = poisson_dataset(4, families=(0, 1))
    batch = Batch.from_data_list(graphs)
    pred = torch.cat([g.y * s for g, s in zip(graphs, (1.1, 1.2, 1.3, 1.4))])
    acc = MetricAccumulator()
    acc.add(pred, batch.y, batch.batch, batch.family)
    summary = acc.summary()
    assert summary["overall"]["samples"] == 4
    assert summary["families"]["0"]["rel_l2"] == pytest.approx(0.2, rel=1e-5)
    assert summary["families"]["1"]["rel_l2"] == pytest.approx(0.3, rel=1e-5)
    assert summary["overall"]["rel_l2"] == pytest.approx(0.25, rel=1e-5)
    assert acc.sums().tolist()[2] == 4
    assert math.isnan(MetricAccumulator().summary()["overall"]["rel_l2"])


def test_get_loss_names():
    assert get_loss("rel_l2") is relative_l2_loss
    with pytest.raises(ConfigError, match="train.loss"):
        get_loss("huber")
