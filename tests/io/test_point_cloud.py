import numpy as np
import pytest

from graphops.errors import MeshError
from graphops.io import read_mesh, read_point_cloud, write_mesh, write_point_cloud
from graphops.mesh import Mesh


@pytest.mark.parametrize("ext", [".npy", ".csv", ".xyz"])
@pytest.mark.parametrize("d", [2, 3])
def test_point_cloud_round_trip(tmp_path, ext, d):
    pts = np.random.default_rng(0).random((50, d))
    cloud = Mesh(pts, point_data={} if ext == ".npy" else {"s": np.arange(50.0)})
    path = write_point_cloud(tmp_path / f"c{ext}", cloud)
    back = read_mesh(path)
    assert back.is_point_cloud
    if ext == ".xyz" and d == 2:
        np.testing.assert_allclose(back.points[:, :2], pts)
    else:
        np.testing.assert_allclose(back.points, pts)
    if ext == ".csv":
        np.testing.assert_allclose(back.point_data["s"], np.arange(50.0))


def test_ply_and_vtu_clouds(tmp_path):
    import meshio

    pts = np.random.default_rng(1).random((20, 3))
    meshio.Mesh(pts, []).write(tmp_path / "c.ply")
    assert read_mesh(tmp_path / "c.ply").num_points == 20
    write_mesh(tmp_path / "c.vtu", Mesh(pts))
    assert read_mesh(tmp_path / "c.vtu").num_points == 20


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
