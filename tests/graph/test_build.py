import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from torch_geometric.data import Batch

from graphops.cells import CELL_EDGES
from graphops.errors import DataError
from graphops.graph import EdgeFeatures, KNNGraph, RadiusGraph, knn_graph, mesh_to_graph, point_cloud_to_graph, radius_edges_between, radius_graph


def _edge_set(e):
    return set(map(tuple, np.asarray(e).T.tolist()))


@pytest.mark.parametrize("fixture", ["holes_mesh", "mixed_mesh", "cube_mesh", "hex_mesh", "wedge_mesh"])
def test_mesh_edges_match_cells(fixture, request):
    mesh = request.getfixturevalue(fixture)
    data = mesh_to_graph(mesh)
    e = data.edge_index.numpy()
    expected = set()
    for ctype, conn in mesh.volume_cells().items():
        for a, b in CELL_EDGES[ctype]:
            for i, j in conn[:, [a, b]].tolist():
                expected |= {(i, j), (j, i)}
    assert _edge_set(e) == expected
    assert e.shape[1] == len(expected), "duplicated edges"
    assert (e[0] != e[1]).all()
    d = mesh.geometric_dim
    rel = data.pos[data.edge_index[0]] - data.pos[data.edge_index[1]]
    torch.testing.assert_close(data.edge_attr[:, :d], rel)
    torch.testing.assert_close(data.edge_attr[:, d], rel.norm(dim=1))
    assert data.x.shape == (mesh.num_points, d + 2)
    assert data.boundary_mask.dtype == torch.bool and data.boundary_direction.shape == (mesh.num_points, d)


def test_radius_ball_added(square_mesh):
    plain = mesh_to_graph(square_mesh)
    ball = mesh_to_graph(square_mesh, radius=0.15, max_num_neighbors=None)
    assert _edge_set(plain.edge_index) <= _edge_set(ball.edge_index)
    p = square_mesh.points
    close = cdist(p, p) < 0.15
    np.fill_diagonal(close, False)
    assert _edge_set(np.nonzero(close)) <= _edge_set(ball.edge_index)


def test_batching_keeps_features(square_mesh, holes_mesh):
    b = Batch.from_data_list([mesh_to_graph(square_mesh), mesh_to_graph(holes_mesh)])
    assert b.num_graphs == 2 and b.boundary_mask.shape[0] == b.num_nodes


@pytest.mark.parametrize("d", [2, 3])
def test_knn_matches_brute_force(d):
    pts = np.random.default_rng(d).random((300, d))
    e = knn_graph(pts, 6).numpy()
    dist = cdist(pts, pts)
    np.fill_diagonal(dist, np.inf)
    brute = np.argsort(dist, axis=1)[:, :6]
    assert e.shape == (2, 300 * 6)
    for i in range(300):
        assert set(e[0][e[1] == i]) == set(brute[i])


@pytest.mark.parametrize("d", [2, 3])
def test_radius_matches_brute_force(d):
    pts = np.random.default_rng(10 + d).random((400, d))
    e = radius_graph(pts, 0.12, chunk=97).numpy()
    close = cdist(pts, pts) < 0.12
    np.fill_diagonal(close, False)
    assert _edge_set(e) == _edge_set(np.nonzero(close)[::-1])
    capped = radius_graph(pts, 0.12, max_num_neighbors=3).numpy()
    assert np.bincount(capped[1], minlength=400).max() <= 3
    q = np.random.default_rng(3).random((50, d))
    cross = radius_edges_between(pts, q, 0.1).numpy()
    assert _edge_set(cross) == _edge_set(np.nonzero((cdist(pts, q) < 0.1)))


def test_transforms_and_point_cloud_graph():
    pts = torch.rand(100, 3, generator=torch.Generator().manual_seed(0))
    dist = cdist(pts.numpy(), pts.numpy())
    np.fill_diagonal(dist, np.inf)
    nearest = {(int(j), i) for i in range(100) for j in np.argsort(dist[i])[:4]}  # brute-force 4 nearest
    data = point_cloud_to_graph(pts.numpy(), k=4)
    assert data.edge_index.shape == (2, 400) and data.edge_attr.shape == (400, 4)
    assert _edge_set(data.edge_index) == nearest
    from torch_geometric.data import Data

    d = EdgeFeatures()(KNNGraph(5)(Data(pos=pts)))
    nearest5 = {(int(j), i) for i in range(100) for j in np.argsort(dist[i])[:5]}
    assert d.edge_index.shape == (2, 500) and _edge_set(d.edge_index) == nearest5
    src, dst = d.edge_index
    torch.testing.assert_close(d.edge_attr[:, :3], pts[src] - pts[dst])  # relative position source - target
    torch.testing.assert_close(d.edge_attr[:, 3], torch.from_numpy(dist[dst.numpy(), src.numpy()]).float())
    r = RadiusGraph(0.3)(Data(pos=pts))
    assert _edge_set(r.edge_index) == _edge_set(np.nonzero(dist < 0.3)[::-1])


def test_neighbour_errors():
    with pytest.raises(DataError, match="NaN"):
        knn_graph(np.array([[0.0, np.nan], [1, 1]]), 1)
    with pytest.raises(DataError, match="empty"):
        radius_graph(np.zeros((0, 2)), 0.1)
    with pytest.raises(DataError, match="shape"):
        knn_graph(np.zeros(5), 1)
    with pytest.raises(DataError, match="2D but targets are 3D"):
        radius_edges_between(np.zeros((3, 2)), np.zeros((3, 3)), 0.1)
