"""FieldNormalizer against hand-computed scales: per-channel fields, float64 sums, single nodes, messages."""
from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Data

from graphops.errors import CheckpointError, DataError
from graphops.train.normalize import FieldNormalizer, check_finite


def test_per_channel_scales_by_hand():
    # y channels (3, 0) and (4, 0.5) over two nodes: rms = sqrt((9 + 16)/2), sqrt((0 + 0.25)/2)
    data = Data(pos=torch.zeros(2, 2), y=torch.tensor([[3.0, 0.0], [4.0, 0.5]]))
    norm = FieldNormalizer(fields=("y",)).fit([data])
    torch.testing.assert_close(norm.scales["y"], torch.tensor([math.sqrt(12.5), math.sqrt(0.125)]))
    out = norm(data.clone())
    torch.testing.assert_close(out.y, data.y / torch.tensor([math.sqrt(12.5), math.sqrt(0.125)]))
    torch.testing.assert_close(norm.inverse_y(out.y), data.y)
    # a (N, 1) field is scaled like an (N,) field
    col = FieldNormalizer(fields=("y",)).fit([Data(pos=torch.zeros(2, 2), y=torch.tensor([[3.0], [4.0]]))])
    torch.testing.assert_close(col.scales["y"], torch.tensor([math.sqrt(12.5)]))


def test_a_single_node_field_and_float64_accumulation():
    one = FieldNormalizer(fields=("y",)).fit([Data(pos=torch.zeros(1, 2), y=torch.tensor([2.0]))])
    torch.testing.assert_close(one.scales["y"], torch.tensor([2.0]))  # sqrt(4 / 1), not sqrt(4 / 2)
    # squares of 1e20 overflow float32; the sums are float64
    big = FieldNormalizer(fields=("y",)).fit([Data(pos=torch.zeros(2, 2), y=torch.tensor([1e20, 1e20]))])
    torch.testing.assert_close(big.scales["y"], torch.tensor([1e20]))


def test_a_missing_optional_field_is_left_alone_when_applied():
    norm = FieldNormalizer(fields=("f", "y"), required=("y",)).fit(
        [Data(pos=torch.zeros(2, 2), f=torch.tensor([1.0, 1.0]), y=torch.tensor([2.0, 2.0]))])
    out = norm(Data(pos=torch.zeros(2, 2), y=torch.tensor([4.0, 4.0])))
    torch.testing.assert_close(out.y, torch.tensor([2.0, 2.0]))
    assert "f" not in out


def test_nan_in_pos_and_names_without_sample_id():
    bad = Data(pos=torch.tensor([[0.0, float("nan")], [1.0, 1.0]]), y=torch.ones(2))
    with pytest.raises(DataError, match=r"^sample #1: field 'pos' has 1 NaN/inf value\(s\)$"):
        FieldNormalizer(fields=("y",)).fit([Data(pos=torch.zeros(2, 2), y=torch.ones(2)), bad])
    with pytest.raises(DataError, match=r"^sample #4: field 'y'"):
        check_finite(Data(y=torch.tensor([float("inf")])), 4)
    with pytest.raises(DataError, match=r"^sample 7: field 'y'"):
        check_finite(Data(y=torch.tensor([float("inf")]), sample_id=torch.tensor([7])), 0)


def test_error_messages_name_the_fields():
    with pytest.raises(ValueError, match=r"^required field\(s\) q, r not among the fields f, y$"):
        FieldNormalizer(fields=("f", "y"), required=("q", "r"))
    with pytest.raises(DataError, match=r"^cannot fit the normaliser: no sample has field\(s\) f, g$"):
        FieldNormalizer(fields=("f", "g", "y")).fit([Data(pos=torch.zeros(1, 2), y=torch.ones(1))])
    with pytest.raises(RuntimeError, match=r"^FieldNormalizer used before fit\(\) or load_state_dict\(\)$"):
        FieldNormalizer()(Data(y=torch.ones(1)))
    for bad in ("not a tensor", torch.tensor([float("nan")]), torch.tensor([0.0]), torch.tensor([-1.0])):
        with pytest.raises(CheckpointError, match="no valid scale for field 'y'"):
            FieldNormalizer(fields=("y",)).load_state_dict({"y": bad})


def test_loaded_scales_are_float32():
    norm = FieldNormalizer(fields=("y",)).load_state_dict({"y": torch.tensor([2.0], dtype=torch.float64)})
    assert norm.scales["y"].dtype == torch.float32


def test_check_finite_defaults_and_scalar_sample_ids():
    with pytest.raises(DataError, match=r"^sample #0: field 'y'"):
        check_finite(Data(y=torch.tensor([float("nan")])))
    with pytest.raises(DataError, match=r"^sample 7: field 'y'"):
        check_finite(Data(y=torch.tensor([float("nan")]), sample_id=torch.tensor(7)), 0)
    # fit checks the fields it scales, whatever their names
    with pytest.raises(DataError, match=r"field 'q' has 1 NaN"):
        FieldNormalizer(fields=("q",)).fit([Data(pos=torch.zeros(1, 2), q=torch.tensor([float("nan")]))])
