"""Coarse graphs of fine meshes: spacing, exact linear interpolation, no edges across a slit, session path."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from graphops.errors import ConfigError, DataError
from graphops.graph import mesh_to_graph
from graphops.graph import median_edge_length
from graphops.graph.coarsen import coarsen_graph
from graphops.inference import InferenceSession
from graphops.mesh import Mesh


def grid_mesh(n: int, slit: bool = False) -> Mesh:
    """The unit square as an ``n x n`` grid of right triangles, optionally without the slit
    ``0.48 < x < 0.52, y > 0.25`` (triangles whose centroid lies there are removed)."""
    xs = np.linspace(0.0, 1.0, n + 1)
    x, y = np.meshgrid(xs, xs, indexing="ij")
    points = np.stack([x.ravel(), y.ravel()], axis=1)
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    tri = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    if slit:
        centre = points[tri].mean(axis=1)
        tri = tri[~((np.abs(centre[:, 0] - 0.5) < 0.02) & (centre[:, 1] > 0.25))]
    used = np.unique(tri)
    renumber = np.full(len(points), -1)
    renumber[used] = np.arange(len(used))
    return Mesh(points[used], {"triangle": renumber[tri]})


@pytest.fixture(scope="module")
def fine_graph():
    return mesh_to_graph(grid_mesh(100))


@pytest.fixture(scope="module")
def coarse(fine_graph):
    return coarsen_graph(fine_graph, 0.05)


def test_spacing_and_sizes(fine_graph, coarse):
    assert coarse.fine_spacing == pytest.approx(0.01)
    spacing = median_edge_length(coarse.graph)
    assert 0.8 * 0.05 < spacing < 1.25 * 0.05
    n = fine_graph.num_nodes
    assert coarse.prolongation.shape == (n, coarse.graph.num_nodes)
    assert coarse.cluster.shape == (n,) and set(np.unique(coarse.cluster)) == set(range(coarse.graph.num_nodes))
    # every seed is its own cluster's centre
    np.testing.assert_array_equal(coarse.cluster[coarse.seeds], np.arange(len(coarse.seeds)))


def test_coarse_graph_carries_the_seeds_attributes(fine_graph, coarse):
    g, s = coarse.graph, torch.from_numpy(coarse.seeds)
    for name in ("pos", "x", "boundary_mask", "boundary_normal", "boundary_distance"):
        assert torch.equal(g[name], fine_graph[name][s])
    ei = g.edge_index.numpy()
    assert (ei[0] != ei[1]).all()
    pairs = set(map(tuple, ei.T))
    assert all((b, a) in pairs for a, b in pairs)  # both directions
    rel = g.pos[ei[0]] - g.pos[ei[1]]
    np.testing.assert_allclose(g.edge_attr.numpy(), torch.cat([rel, rel.norm(dim=1, keepdim=True)], 1).numpy(), atol=1e-6)
    # the square's boundary keeps seeds on every side
    bpos = g.pos[g.boundary_mask].numpy()
    for axis in (0, 1):
        for side in (0.0, 1.0):
            assert (np.abs(bpos[:, axis] - side) < 1e-9).sum() >= 10


def test_prolongation_is_exact_for_linear_fields_and_keeps_seed_values(fine_graph, coarse):
    pos = fine_graph.pos.double().numpy()
    linear = 0.3 - 2.0 * pos[:, 0] + 5.0 * pos[:, 1]
    np.testing.assert_allclose(coarse.prolong(coarse.restrict(linear)), linear, atol=1e-8)
    np.testing.assert_allclose(np.asarray(coarse.prolongation.sum(axis=1)).ravel(), 1.0, atol=1e-10)
    rng = np.random.default_rng(0)
    values = rng.normal(size=(coarse.graph.num_nodes, 3))
    back = coarse.prolong(values)
    assert back.shape == (fine_graph.num_nodes, 3)
    np.testing.assert_allclose(back[coarse.seeds], values, atol=1e-4)
    # a smooth field is interpolated to second order: error well below the field's variation over one spacing
    smooth = np.sin(3 * pos[:, 0]) * np.cos(2 * pos[:, 1])
    err = np.abs(coarse.prolong(coarse.restrict(smooth)) - smooth).max()
    assert err < 0.01


def test_no_coarse_edge_crosses_a_slit():
    graph = mesh_to_graph(grid_mesh(100, slit=True))
    coarse = coarsen_graph(graph, 0.06)
    pos = coarse.graph.pos.numpy()
    ei = coarse.graph.edge_index.numpy()
    left, right = pos[ei[0], 0] < 0.5, pos[ei[1], 0] > 0.5
    high = np.minimum(pos[ei[0], 1], pos[ei[1], 1]) > 0.25 + 0.06
    assert not (left & right & high).any()
    # interpolation does not mix the two sides either: a field that is 0 left of the slit and 1 right of it
    fine = graph.pos.numpy()
    side = (fine[:, 0] > 0.5).astype(float)
    far = np.abs(fine[:, 0] - 0.5) > 0.03
    upper = fine[:, 1] > 0.25 + 2 * 0.06
    np.testing.assert_allclose(coarse.prolong(coarse.restrict(side))[far & upper], side[far & upper], atol=1e-9)


def test_not_coarsened_when_not_finer_and_bad_spacing(fine_graph):
    assert coarsen_graph(fine_graph, 0.012) is None
    for bad in (0, -1.0, float("nan"), True, "0.1"):
        with pytest.raises(ConfigError, match="spacing"):
            coarsen_graph(fine_graph, bad)
    with pytest.raises(DataError, match="boundary_mask"):
        coarsen_graph(mesh_to_graph(grid_mesh(10), boundary=False), 0.5)


def test_3d_box_linear_field_exact():
    from graphops.geometry import solid_with_holes

    mesh = solid_with_holes(0, 0.12)
    graph = mesh_to_graph(mesh)
    coarse = coarsen_graph(graph, 3 * median_edge_length(graph))
    assert coarse is not None and coarse.graph.num_nodes < graph.num_nodes / 8
    pos = graph.pos.double().numpy()
    linear = 1.0 + pos @ np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(coarse.prolong(coarse.restrict(linear)), linear, atol=1e-7)


class EchoF(nn.Module):
    """A 'model' that returns its input field f: the session's output is then the interpolated input."""

    def forward(self, data):
        return data.f.reshape(-1, 1)


def test_session_evaluates_on_the_coarse_graph_and_interpolates(fine_graph):
    mesh = grid_mesh(100)
    pos = mesh.points
    session = InferenceSession(EchoF(), mesh, threads=1, coarsen=0.05)
    assert session.coarsening is not None and session.graph.num_nodes == session.coarsening.graph.num_nodes
    assert session.num_nodes == mesh.num_points
    queries = [{"f": 1.0 + k * pos[:, 0] - pos[:, 1], "g": 0.0} for k in range(3)]
    out = session.predict(queries)
    assert out.shape == (3, mesh.num_points, 1)
    for k in range(3):
        np.testing.assert_allclose(out[k, :, 0], queries[k]["f"], atol=1e-5)
    np.testing.assert_allclose(session.predict_one(queries[2])[:, 0], queries[2]["f"], atol=1e-5)
    with pytest.raises(DataError, match="the mesh has"):
        session.predict_one({"f": np.ones(session.graph.num_nodes)})
    same = InferenceSession(EchoF(), mesh, threads=1, coarsen=0.011)  # not 1.5x finer: the mesh graph itself
    assert same.coarsening is None and same.graph.num_nodes == mesh.num_points
