"""Error metrics against values worked out by hand (not against the library's own formulas)."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch_geometric.data import Data

from graphops.train.evaluate import evaluate_model
from graphops.train.metrics import MetricAccumulator, mae_per_graph, relative_l2_per_graph

# Two graphs, one channel:
#   graph 0: target (3, 4), prediction (3, 5): |error| = 1, |target| = 5  -> rel L2 1/5, MAE (0 + 1)/2 = 1/2
#   graph 1: target (1, 0, 2), prediction (0, 0, 0): |error| = |target| -> rel L2 1, MAE (1 + 0 + 2)/3 = 1
TARGET = torch.tensor([3.0, 4.0, 1.0, 0.0, 2.0])
PRED = torch.tensor([3.0, 5.0, 0.0, 0.0, 0.0])
BATCH = torch.tensor([0, 0, 1, 1, 1])


def test_relative_l2_and_mae_per_graph_by_hand():
    torch.testing.assert_close(relative_l2_per_graph(PRED, TARGET, BATCH), torch.tensor([0.2, 1.0]))
    torch.testing.assert_close(mae_per_graph(PRED, TARGET, BATCH), torch.tensor([0.5, 1.0]))
    # one graph without a batch vector: |error| = sqrt(1 + 1 + 4) = sqrt 6, |target| = sqrt(9 + 16 + 1 + 4) = sqrt 30
    torch.testing.assert_close(relative_l2_per_graph(PRED, TARGET), torch.tensor([math.sqrt(6 / 30)]))
    torch.testing.assert_close(mae_per_graph(PRED, TARGET), torch.tensor([4.0 / 5.0]))


def test_two_channels_by_hand():
    # target rows (1, 0), (0, 2); prediction (1, 1), (0, 1): |error| = sqrt 2, |target| = sqrt 5;
    # MAE: node means (0 + 1)/2 and (0 + 1)/2 -> 1/2
    target = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    pred = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    torch.testing.assert_close(relative_l2_per_graph(pred, target), torch.tensor([math.sqrt(2 / 5)]))
    torch.testing.assert_close(mae_per_graph(pred, target), torch.tensor([0.5]))


def test_zero_target_is_clamped_not_divided_by_zero():
    rel = relative_l2_per_graph(torch.tensor([1e-3, 0.0]), torch.zeros(2), eps=1e-2)
    torch.testing.assert_close(rel, torch.tensor([0.1]))


def test_accumulator_summary_by_hand():
    acc = MetricAccumulator()
    acc.add(PRED, TARGET, BATCH, families=[4, 7])
    # graph 2: target (2,), prediction (1,): rel L2 1/2, MAE 1; family 4
    acc.add(torch.tensor([1.0]), torch.tensor([2.0]), None, families=torch.tensor([4]))
    summary = acc.summary()
    overall = summary["overall"]
    assert overall["samples"] == 3
    # rel L2: 0.2, 1.0, 0.5 -> mean 17/30; population std sqrt(((0.2-m)^2 + (1-m)^2 + (0.5-m)^2) / 3)
    mean = 1.7 / 3
    assert overall["rel_l2"] == pytest.approx(mean, rel=1e-7)
    assert overall["rel_l2_std"] == pytest.approx(math.sqrt(((0.2 - mean) ** 2 + (1 - mean) ** 2 + (0.5 - mean) ** 2) / 3), rel=1e-7)
    assert overall["mae"] == pytest.approx((0.5 + 1.0 + 1.0) / 3, rel=1e-7)
    assert summary["families"]["4"] == pytest.approx({"samples": 2, "rel_l2": 0.35, "rel_l2_std": 0.15, "mae": 0.75})
    assert summary["families"]["7"] == pytest.approx({"samples": 1, "rel_l2": 1.0, "rel_l2_std": 0.0, "mae": 1.0})
    sums = acc.sums()
    torch.testing.assert_close(sums, torch.tensor([1.7, 2.5, 3.0], dtype=torch.float64))
    assert len(acc) == 3
    empty = MetricAccumulator().summary()["overall"]
    assert empty["samples"] == 0 and math.isnan(empty["rel_l2"])


class PlusOne(nn.Module):
    """A stand-in model whose prediction is the target plus one at every node."""

    def forward(self, batch):
        return batch.y + 1.0


def test_evaluate_model_by_hand():
    # prediction = target + 1: |error| = sqrt(n), MAE = 1. Graph a: y = (3, 4): rel L2 sqrt(2)/5;
    # graph b: y = (0, 0, 2): rel L2 sqrt(3)/2
    graphs = [Data(y=torch.tensor([[3.0], [4.0]]), num_nodes=2, family=0, sample_id=10),
              Data(y=torch.tensor([[0.0], [0.0], [2.0]]), num_nodes=3, family=1, sample_id=11)]
    acc, rows = evaluate_model(PlusOne(), None, graphs, batch_size=2, predictions=True)
    assert [r["sample_id"] for r in rows] == [10, 11] and [r["family"] for r in rows] == [0, 1]
    assert rows[0]["rel_l2"] == pytest.approx(math.sqrt(2) / 5, rel=1e-6)
    assert rows[1]["rel_l2"] == pytest.approx(math.sqrt(3) / 2, rel=1e-6)
    assert rows[0]["mae"] == pytest.approx(1.0) and rows[1]["mae"] == pytest.approx(1.0)
    torch.testing.assert_close(rows[1]["pred"], torch.tensor([[1.0], [1.0], [3.0]]))
    assert acc.summary()["overall"]["rel_l2"] == pytest.approx((math.sqrt(2) / 5 + math.sqrt(3) / 2) / 2, rel=1e-6)


def test_edge_cases_found_by_the_mutation_check():
    # the default eps only guards a zero target: a small target is divided by its own norm (0.1 / 0.1 = 1)
    torch.testing.assert_close(relative_l2_per_graph(torch.tensor([0.2]), torch.tensor([0.1])), torch.tensor([1.0]))
    # a float64 target does not promote a float32 prediction's metric
    assert mae_per_graph(torch.ones(3), torch.zeros(3, dtype=torch.float64)).dtype == torch.float32
    # graphs without a family count overall but in no family
    acc = MetricAccumulator()
    acc.add(PRED, TARGET, BATCH, families=[None, 7])
    summary = acc.summary()
    assert summary["overall"]["samples"] == 2 and list(summary["families"]) == ["7"]
    empty = MetricAccumulator().summary()["overall"]
    assert set(empty) == {"samples", "rel_l2", "rel_l2_std", "mae"}
    assert all(math.isnan(empty[k]) for k in ("rel_l2", "rel_l2_std", "mae"))
