import numpy as np
import pytest

from graphops.errors import MeshError
from graphops.mesh import Mesh


def test_validate_nan_points():
    pts = np.random.rand(4, 2)
    pts[2, 1] = np.nan
    with pytest.raises(MeshError, match="NaN or infinite coordinates .*node 2"):
        Mesh(pts, {"triangle": [[0, 1, 2]]}, source="a.vtu").validate()


def test_validate_bad_connectivity_and_no_volume():
    with pytest.raises(MeshError, match="refer to node 7"):
        Mesh(np.random.rand(4, 2), {"triangle": [[0, 1, 7]]}).validate()
    with pytest.raises(MeshError, match="no 2D or 3D volume cells .*line"):
        Mesh(np.random.rand(4, 2), {"line": [[0, 1]]}).validate(require_cells=True)


def test_with_point_data_and_unused_points():
    m = Mesh(np.random.rand(5, 2), {"triangle": [[0, 1, 3]]}, {"a": np.arange(5.0)})
    m2 = m.with_point_data(u=np.ones(5))
    assert set(m2.point_data) == {"a", "u"} and "u" not in m.point_data
    with pytest.raises(MeshError, match="3 rows for 5 nodes"):
        m.with_point_data(u=np.ones(3))
    c = m.remove_unused_points()
    assert c.num_points == 3 and c.cells["triangle"].tolist() == [[0, 1, 2]]
    np.testing.assert_array_equal(c.point_data["a"], [0, 1, 3])


def test_group_lookup(t1_geo):
    from graphops.io import read_mesh

    m = read_mesh(t1_geo)
    assert m.group(5).name == "5" and m.group("My surface").dim == 2
    with pytest.raises(MeshError, match="no physical group 'nope'"):
        m.group("nope")


@pytest.mark.parametrize(
    "points,cells,kind",
    [
        (np.random.rand(4, 2), {"triangle": [[0, 1, 2]]}, "2D mesh"),
        (np.random.rand(4, 3), {"tetra": [[0, 1, 2, 3]]}, "3D mesh"),
        (np.random.rand(4, 3), {"quad": [[0, 1, 2, 3]]}, "surface mesh in 3D"),
        (np.random.rand(4, 3), {"line": [[0, 1]]}, "curve mesh in 3D"),
        (np.random.rand(4, 2), {"line": [[0, 1]]}, "curve mesh in 2D"),
        (np.random.rand(4, 3), {}, "3D point cloud"),
    ],
)
def test_kind_names_what_the_mesh_is(points, cells, kind):
    assert Mesh(points, cells).kind == kind
