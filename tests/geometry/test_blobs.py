"""Random polygons and spline blobs with holes."""
import numpy as np
import pytest

from graphops.boundary import boundary_facets
from graphops.errors import ConfigError
from graphops.geometry import blob_with_holes, polygon_with_holes


def _num_holes_topologically(mesh):
    """Euler characteristic of a triangulated planar region: V - E + F = 1 - holes."""
    tri = mesh.cells["triangle"]
    edges = np.unique(np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1), axis=0)
    return 1 - (mesh.num_points - len(edges) + len(tri))


@pytest.mark.parametrize("make", [polygon_with_holes, blob_with_holes])
@pytest.mark.parametrize("holes", [0, 1, 3])
def test_hole_count_groups_and_containment(make, holes):
    mesh = make(seed=holes + 2, mesh_size=0.05, num_holes=holes)
    assert _num_holes_topologically(mesh) == holes
    assert "outer" in mesh.groups and ("hole" in mesh.groups) == (holes > 0)
    lo, hi = mesh.bounding_box()
    assert lo.min() >= 0.0 and hi.max() <= 1.0
    # the named groups cover the whole boundary
    named = sum(len(g.cells.get("line", ())) for n, g in mesh.groups.items() if n in ("outer", "hole"))
    assert named == len(boundary_facets(mesh)["line"])


@pytest.mark.parametrize("make", [polygon_with_holes, blob_with_holes])
def test_reproducible_and_seed_dependent(make):
    a, b = make(4, 0.05, None), make(4, 0.05, None)
    assert np.array_equal(a.points, b.points) and np.array_equal(a.cells["triangle"], b.cells["triangle"])
    c = make(5, 0.05, None)
    assert a.num_points != c.num_points or not np.array_equal(a.points, c.points)


def test_uniform_refinement_keeps_groups():
    coarse = polygon_with_holes(1, 0.1, 2)
    fine = polygon_with_holes(1, 0.1, 2, refinements=2)
    assert fine.num_cells() == 16 * coarse.num_cells()
    assert len(fine.group("hole").cells["line"]) == 4 * len(coarse.group("hole").cells["line"])


def test_too_many_holes_is_a_config_error():
    with pytest.raises(ConfigError):
        blob_with_holes(0, 0.05, num_holes=9)
