import numpy as np
import pytest

from graphops.errors import MeshError
from graphops.io import read_mesh, read_point_cloud, write_mesh, write_point_cloud
from graphops.mesh import Mesh


@pytest.mark.parametrize("ext", [".npy", ".csv", ".xyz"])
@pytest.mark.parametrize("d", [2, 3])
def test_point_cloud_round_trip_is_exact(tmp_path, ext, d):
    rng = np.random.default_rng(0)
    # awkward float64 values: far from the origin (millimetre parts), tiny, negative, not decimal-exact
    pts = rng.random((50, d)) * np.array([1e6, 1e-9, -3.0][:d]) + np.array([5e5, 1e-300, 1 / 3][:d])
    pts[0] = np.nextafter(pts[0], np.inf)
    field = rng.normal(size=50) * 1e-7
    cloud = Mesh(pts, point_data={"s": field} if ext == ".csv" else {})
    path = write_point_cloud(tmp_path / f"c{ext}", cloud)
    back = read_mesh(path)
    assert back.is_point_cloud and back.points.dtype == np.float64
    if ext == ".xyz" and d == 2:
        np.testing.assert_array_equal(back.points[:, :2], pts)
        assert back.points.shape[1] == 2 or not back.points[:, 2:].any()
    else:
        np.testing.assert_array_equal(back.points, pts)  # bit for bit, not approximately
    if ext == ".csv":
        np.testing.assert_array_equal(back.point_data["s"], field)


def test_xyz_of_a_2d_cloud_with_a_field_keeps_its_coordinates(tmp_path):
    pts = np.random.default_rng(0).random((10, 2))
    path = write_point_cloud(tmp_path / "c.xyz", Mesh(pts, point_data={"s": np.arange(10.0) + 1}))
    back = read_mesh(path)
    assert back.geometric_dim == 2
    np.testing.assert_array_equal(back.points[:, :2], pts)


def test_ply_and_vtu_clouds(tmp_path):
    import meshio

    pts = np.random.default_rng(1).random((20, 3))
    meshio.Mesh(pts, []).write(tmp_path / "c.ply")
    np.testing.assert_array_equal(read_mesh(tmp_path / "c.ply").points, pts)
    write_mesh(tmp_path / "c.vtu", Mesh(pts))
    np.testing.assert_array_equal(read_mesh(tmp_path / "c.vtu").points, pts)


def test_point_cloud_errors(tmp_path):
    np.save(tmp_path / "empty.npy", np.zeros((0, 3)))
    with pytest.raises(MeshError, match="empty.npy: the point cloud is empty"):
        read_point_cloud(tmp_path / "empty.npy")
    np.save(tmp_path / "wide.npy", np.zeros((4, 5)))
    with pytest.raises(MeshError, match="2 or 3 coordinates"):
        read_point_cloud(tmp_path / "wide.npy")
    a = np.random.rand(5, 3)
    a[1, 0] = np.inf
    np.save(tmp_path / "inf.npy", a)
    with pytest.raises(MeshError, match="inf.npy: 1 node\\(s\\) have NaN or infinite"):
        read_point_cloud(tmp_path / "inf.npy")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(MeshError, match="needs columns x and y"):
        read_point_cloud(tmp_path / "bad.csv")
    (tmp_path / "junk.xyz").write_text("1 2 three\n")
    with pytest.raises(MeshError, match="junk.xyz: cannot read the point cloud"):
        read_point_cloud(tmp_path / "junk.xyz")
    (tmp_path / "corrupt.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(MeshError, match="corrupt.npy"):
        read_point_cloud(tmp_path / "corrupt.npy")
