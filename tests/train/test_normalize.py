"""FieldNormalizer: scale-only, fitted on training graphs, invertible, serialisable."""
import io

import pytest
import torch
from torch_geometric.data import Batch

from graphops.errors import CheckpointError, DataError
from graphops.train.normalize import FieldNormalizer, check_finite
from train_helpers import poisson_dataset


@pytest.fixture(scope="module")
def data():
    return poisson_dataset(6)


def test_scales_are_rms_over_all_training_nodes(data):
    norm = FieldNormalizer().fit(data)
    for name in ("f", "g", "y"):
        values = torch.cat([getattr(d, name).reshape(-1) for d in data]).double()
        assert float(norm.scales[name]) == pytest.approx(float(values.pow(2).mean().sqrt()), rel=1e-5)


def test_transform_scales_fields_and_keeps_zeros_and_original(data):
    norm = FieldNormalizer().fit(data)
    sample = data[0]
    out = norm(sample)
    assert out is not sample
    assert torch.allclose(out.y * norm.scales["y"], sample.y)
    assert torch.allclose(out.f * norm.scales["f"], sample.f)
    interior = ~sample.boundary_mask
    assert torch.all(out.g[interior] == 0)  # scale only: zeros stay zeros
    assert torch.equal(out.pos, sample.pos)  # geometry untouched
    assert torch.allclose(norm.inverse_y(out.y), sample.y)


def test_applies_to_a_batch(data):
    norm = FieldNormalizer().fit(data)
    batch = Batch.from_data_list(data[:3])
    out = norm(batch)
    assert torch.allclose(out.y, batch.y / norm.scales["y"])
    assert out.num_graphs == 3


def test_state_dict_roundtrip_with_weights_only(data):
    norm = FieldNormalizer().fit(data)
    buffer = io.BytesIO()
    torch.save(norm.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    again = FieldNormalizer.from_state_dict(state)
    assert all(torch.equal(again.scales[k], norm.scales[k]) for k in norm.fields)
    assert torch.equal(again(data[1]).y, norm(data[1]).y)


def test_zero_field_keeps_unit_scale(data):
    zero = [d.clone() for d in data]
    for d in zero:
        d.f = torch.zeros_like(d.f)
    norm = FieldNormalizer().fit(zero)
    assert float(norm.scales["f"]) == 1.0


def test_nan_in_input_names_the_sample(data):
    broken = [d.clone() for d in data]
    broken[2].g[0] = float("nan")
    with pytest.raises(DataError, match="sample 2: field 'g'"):
        FieldNormalizer().fit(broken)
    with pytest.raises(DataError, match="'g' has 1 NaN"):
        check_finite(broken[2])


def test_missing_field_and_bad_state_are_clear_errors(data):
    bare = [d.clone() for d in data]
    for d in bare:
        del d.y
    with pytest.raises(DataError, match="no sample has field"):
        FieldNormalizer().fit(bare)
    with pytest.raises(CheckpointError, match="scale for field 'y'"):
        FieldNormalizer().load_state_dict({"f": torch.ones(1), "g": torch.ones(1), "y": torch.zeros(1)})
    with pytest.raises(RuntimeError, match="before fit"):
        FieldNormalizer()(data[0])


def test_optional_fields_absent_from_the_data_are_dropped(data):
    no_source = [d.clone() for d in data]
    for d in no_source:
        del d.f  # like elasticity data: boundary values g and target y only
    norm = FieldNormalizer(required=("y",)).fit(no_source)
    assert norm.fields == ("g", "y") and norm.fitted and sorted(norm.state_dict()) == ["g", "y"]
    full = FieldNormalizer().fit(data)
    assert torch.equal(norm.scales["y"], full.scales["y"]) and torch.equal(norm.scales["g"], full.scales["g"])
    out = norm(no_source[0])
    assert torch.allclose(out.y * norm.scales["y"], no_source[0].y)
    again = FieldNormalizer.from_state_dict(norm.state_dict())
    assert again.fields == ("g", "y")
    with_source = FieldNormalizer(required=("y",)).fit(data)  # present optional fields are still scaled
    assert with_source.fields == ("f", "g", "y")
    with pytest.raises(DataError, match="no sample has field"):
        FieldNormalizer(required=("f", "y")).fit(no_source)
    with pytest.raises(ValueError, match="not among the fields"):
        FieldNormalizer(fields=("y",), required=("f",))
