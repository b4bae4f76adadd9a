"""KNNGraph / RadiusGraph behave like PyG's transforms of the same name: batch-aware, no stale edge_attr."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from torch_geometric.data import Batch, Data
from torch_geometric.transforms import Compose, Distance

from graphops.graph import EdgeFeatures, KNNGraph, RadiusGraph, mesh_to_graph


def _edge_set(e):
    return set(map(tuple, np.asarray(e).T.tolist()))


def _knn_oracle(pos: np.ndarray, k: int, offset: int = 0) -> set:
    dist = cdist(pos, pos)
    np.fill_diagonal(dist, np.inf)
    return {(int(j) + offset, i + offset) for i in range(len(pos)) for j in np.argsort(dist[i], kind="stable")[:k]}


def _clouds():
    gen = torch.Generator().manual_seed(4)
    # two overlapping clouds: the nearest neighbours of many nodes lie in the other graph
    return [Data(pos=torch.rand(40, 2, generator=gen)), Data(pos=torch.rand(55, 2, generator=gen) * 0.9 + 0.05)]


@pytest.mark.parametrize("transform", [KNNGraph(5), RadiusGraph(0.2)])
def test_batch_graphs_are_never_connected_to_each_other(transform):
    batch = Batch.from_data_list(_clouds())
    out = transform(batch.clone())
    src, dst = out.edge_index
    assert out.edge_index.shape[1] > 0
    assert torch.equal(out.batch[src], out.batch[dst])
    # and each graph gets exactly the edges it gets alone, shifted by its node offset
    alone = [transform(d.clone()).edge_index + int(batch.ptr[i]) for i, d in enumerate(_clouds())]
    assert _edge_set(out.edge_index) == _edge_set(torch.cat(alone, dim=1))


def test_knn_of_a_batch_matches_a_brute_force_per_graph():
    clouds = _clouds()
    out = KNNGraph(4)(Batch.from_data_list([d.clone() for d in clouds]))
    expected = _knn_oracle(clouds[0].pos.numpy(), 4) | _knn_oracle(clouds[1].pos.numpy(), 4, offset=40)
    assert _edge_set(out.edge_index) == expected


def test_ptr_alone_is_enough_to_separate_graphs():
    batch = Batch.from_data_list(_clouds())
    data = Data(pos=batch.pos, ptr=batch.ptr)
    out = RadiusGraph(0.25)(data)
    graph = torch.repeat_interleave(torch.arange(2), batch.ptr[1:] - batch.ptr[:-1])
    assert torch.equal(graph[out.edge_index[0]], graph[out.edge_index[1]])


def test_stale_edge_attr_is_dropped_and_distance_works_on_a_mesh_graph(square_mesh):
    graph = mesh_to_graph(square_mesh)
    assert graph.edge_attr is not None
    out = Compose([KNNGraph(6), Distance()])(graph.clone())
    src, dst = out.edge_index
    assert out.edge_attr.shape == (out.edge_index.shape[1], 1)
    length = (out.pos[src] - out.pos[dst]).norm(dim=1)
    torch.testing.assert_close(out.edge_attr[:, 0], length / length.max())  # Distance normalises by the max
    radius = RadiusGraph(0.1)(graph.clone())
    assert "edge_attr" not in radius
    feats = EdgeFeatures()(radius)
    torch.testing.assert_close(feats.edge_attr[:, -1], (feats.pos[feats.edge_index[0]] - feats.pos[feats.edge_index[1]]).norm(dim=1))


def test_knn_force_undirected_and_pyg_defaults():
    pos = torch.rand(30, 3, generator=torch.Generator().manual_seed(0))
    assert KNNGraph().k == 6  # PyG's default
    out = KNNGraph(3, force_undirected=True)(Data(pos=pos))
    edges = _edge_set(out.edge_index)
    assert edges == {(b, a) for a, b in edges}
    assert _edge_set(KNNGraph(3)(Data(pos=pos)).edge_index) <= edges
    with_loops = KNNGraph(3, loop=True)(Data(pos=pos)).edge_index
    assert all((i, i) in _edge_set(with_loops) for i in range(30))
