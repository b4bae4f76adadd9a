"""3D solids with through-holes."""
import numpy as np
import pytest

from graphops.errors import ConfigError
from graphops.geometry import solid_with_holes


def _volume(mesh):
    p = mesh.points[mesh.cells["tetra"]]
    return np.abs(np.einsum("ij,ij->i", p[:, 1] - p[:, 0], np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]))).sum() / 6


@pytest.mark.parametrize("shape", ["box", "cylinder"])
def test_solid_groups_and_volume(shape):
    mesh = solid_with_holes(2, mesh_size=0.15, shape=shape, num_holes=2)
    assert mesh.dim == 3 and "tetra" in mesh.cells
    assert {"bottom", "top", "side", "hole", "domain"} <= set(mesh.groups)
    assert np.allclose(mesh.points[mesh.group("bottom").nodes(), 2], 0.0)
    assert np.allclose(mesh.points[mesh.group("top").nodes(), 2], 1.0)
    full = solid_with_holes(2, mesh_size=0.15, shape=shape, num_holes=0)
    assert "hole" not in full.groups
    ratio = _volume(mesh) / _volume(full)
    assert 0.85 < ratio < 0.99  # two holes of radius 0.06..0.12 take 2..9 % of a unit box/cylinder(0.785)


def test_solid_reproducible_and_errors():
    a, b = solid_with_holes(1, 0.2, "box", 1), solid_with_holes(1, 0.2, "box", 1)
    assert np.array_equal(a.points, b.points) and np.array_equal(a.cells["tetra"], b.cells["tetra"])
    with pytest.raises(ConfigError):
        solid_with_holes(1, 0.2, "sphere")
