"""The representation floor of the grid operators, against exact cases."""
import numpy as np
import pytest
import torch

from graphops.errors import DataError
from graphops.models import build_model
from graphops.models.grid_floor import representation_floor


def _global(grid):
    return build_model({"name": "fno_global", "grid_shape": grid, "n_modes": 2, "hidden": 4, "layers": 1})


def test_bilinear_field_is_represented_exactly():
    """Multilinear sampling reproduces any bilinear function: its floor is ~0 on any grid."""
    rng = np.random.default_rng(0)
    pos = rng.uniform(0, 1, size=(300, 2)).astype(np.float32)
    y = 1.0 + 2.0 * pos[:, 0] - pos[:, 1] + 0.5 * pos[:, 0] * pos[:, 1]
    assert representation_floor(_global(5), pos, y) < 1e-3


def test_a_spike_finer_than_the_grid_is_not_represented_and_a_finer_grid_helps():
    rng = np.random.default_rng(1)
    pos = np.concatenate([rng.uniform(0, 1, size=(200, 2)), 0.5 + rng.normal(0, 0.02, size=(200, 2))])
    y = 1.0 + 5.0 * np.exp(-np.sum((pos - 0.5) ** 2, axis=1) / (2 * 0.02**2))
    coarse = representation_floor(_global(8), torch.from_numpy(pos.astype(np.float32)), y)
    fine = representation_floor(_global(128), torch.from_numpy(pos.astype(np.float32)), y)
    assert coarse > 0.3 and fine < 0.5 * coarse


def test_bad_values_are_data_errors():
    pos = np.random.default_rng(2).uniform(0, 1, size=(50, 2)).astype(np.float32)
    with pytest.raises(DataError):
        representation_floor(_global(4), pos, np.zeros(50))
    with pytest.raises(DataError):
        representation_floor(_global(4), pos, np.ones(49))
