"""InferenceSession: batched == single == the plain forward pass, geometry built once, chunking, errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from graphops.boundary import boundary_nodes
from graphops.data.dataset import sample_graph
from graphops.errors import ConfigError, DataError
from graphops.inference import InferenceSession, stack_graph
from graphops.models import build_model
from graphops.train.checkpoint import save_checkpoint
from graphops.train.normalize import FieldNormalizer


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def mesh(cutout_mesh):
    return cutout_mesh


def queries(mesh, count, seed=0):
    rng = np.random.default_rng(seed)
    n = mesh.num_points
    return [{"f": rng.normal(size=n), "g": rng.normal(size=n)} for _ in range(count)]


def reference(model, normalizer, mesh, query, bc):
    """The plain path: the training graph of one sample, normaliser, forward, inverse."""
    data = sample_graph(mesh, {"f": query["f"], "g": query["g"], "bc_dirichlet": bc})
    if normalizer is not None:
        data = normalizer(data)
    with torch.no_grad():
        out = model(data)
    return (normalizer.inverse_y(out) if normalizer is not None else out).numpy()


def fitted_normalizer(mesh):
    rng = np.random.default_rng(9)
    n = mesh.num_points
    data = sample_graph(mesh, {"f": 3 * rng.normal(size=n), "g": 0.5 * rng.normal(size=n), "y": 2 * rng.normal(size=(n, 1)),
                               "bc_dirichlet": np.zeros(n, bool)})
    return FieldNormalizer().fit([data])


@pytest.mark.parametrize("config", [
    {"name": "beno", "hidden": 16, "layers": 2, "boundary_layers": 1},
    {"name": "beno", "hidden": 16, "layers": 2, "boundary_layers": 1, "boundary_attention": "cross"},
    {"name": "meshgraphnet", "hidden": 16, "layers": 2},
    {"name": "gno", "hidden": 8},
])
def test_batched_equals_single_equals_plain_forward(mesh, config):
    torch.manual_seed(0)
    model = build_model(config).eval()
    norm = fitted_normalizer(mesh)
    bc = boundary_nodes(mesh)  # all Dirichlet
    session = InferenceSession(model, mesh, normalizer=norm, fixed={"bc_dirichlet": bc}, threads=1)
    qs = queries(mesh, 5)
    batched = session.predict(qs)
    assert batched.shape == (5, mesh.num_points, 1) and batched.dtype == np.float32
    single = np.stack([session.predict_one(q) for q in qs])
    np.testing.assert_allclose(batched, single, rtol=0, atol=1e-5)
    for i in (0, 3):
        np.testing.assert_allclose(batched[i], reference(model, norm, mesh, qs[i], bc), rtol=0, atol=1e-5)


def test_chunked_batches_give_the_same_answer(mesh):
    torch.manual_seed(0)
    model = build_model({"name": "beno", "hidden": 16, "layers": 2, "boundary_layers": 1}).eval()
    qs = queries(mesh, 7, seed=2)
    whole = InferenceSession(model, mesh, threads=1).predict(qs)
    chunked = InferenceSession(model, mesh, threads=1, max_batch_nodes=2 * mesh.num_points + 1).predict(qs)
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-5)


def test_graph_and_context_are_built_once(mesh, monkeypatch):
    import graphops.graph as graph_module
    from graphops.models.beno import BENO

    calls = {"graph": 0, "context": 0}
    build = graph_module.mesh_to_graph
    context = BENO.geometry_context

    def counting_build(*args, **kwargs):
        calls["graph"] += 1
        return build(*args, **kwargs)

    def counting_context(self, data):
        calls["context"] += 1
        return context(self, data)

    monkeypatch.setattr(graph_module, "mesh_to_graph", counting_build)
    monkeypatch.setattr(BENO, "geometry_context", counting_context)
    torch.manual_seed(0)
    session = InferenceSession(build_model({"name": "beno", "hidden": 16, "layers": 2, "boundary_layers": 1}), mesh,
                               threads=1, max_batch_nodes=3 * mesh.num_points)
    qs = queries(mesh, 7)
    first = session.predict(qs)
    session.predict_one(qs[0])
    again = session.predict(qs)
    assert calls == {"graph": 1, "context": 1}
    np.testing.assert_array_equal(first, again)


def test_stack_graph_is_the_pyg_batch_of_copies(mesh):
    from torch_geometric.data import Batch

    graph = sample_graph(mesh, {"f": np.ones(mesh.num_points)})
    stacked = stack_graph(graph, 3)
    batch = Batch.from_data_list([graph, graph, graph])
    for name in ("edge_index", "edge_attr", "pos", "boundary_normal", "batch"):
        assert torch.equal(getattr(stacked, name), getattr(batch, name)), name
    assert stacked.num_graphs == 3 and stacked.num_nodes == 3 * graph.num_nodes


def test_checkpoint_path_loads_model_and_normaliser(mesh, tmp_path):
    torch.manual_seed(0)
    model = build_model({"name": "beno", "hidden": 16, "layers": 2, "boundary_layers": 1}).eval()
    norm = fitted_normalizer(mesh)
    path = save_checkpoint(tmp_path / "m.pt", model, normalizer=norm)
    q = queries(mesh, 1)[0]
    got = InferenceSession(path, mesh, threads=1).predict_one(q)
    np.testing.assert_allclose(got, reference(model, norm, mesh, q, np.zeros(mesh.num_points, bool)), rtol=0, atol=1e-5)


def test_threads_are_restored(mesh):
    torch.manual_seed(0)
    session = InferenceSession(build_model({"name": "gno", "hidden": 8}), mesh, threads=2)
    before = torch.get_num_threads()
    session.predict(queries(mesh, 1))
    assert torch.get_num_threads() == before


def test_bad_queries_are_clear_errors(mesh):
    session = InferenceSession(build_model({"name": "gno", "hidden": 8}), mesh, threads=1)
    n = mesh.num_points
    with pytest.raises(DataError, match="has 3 values"):
        session.predict([{"f": np.ones(3)}])
    with pytest.raises(DataError, match="NaN"):
        session.predict([{"f": np.full(n, np.nan)}])
    with pytest.raises(ConfigError, match="list of queries"):
        session.predict({"f": np.ones(n)})
    with pytest.raises(ConfigError, match="max_batch_nodes"):
        InferenceSession(build_model({"name": "gno", "hidden": 8}), mesh, max_batch_nodes=0)
    with pytest.raises(ConfigError, match="Mesh or a graph"):
        InferenceSession(build_model({"name": "gno", "hidden": 8}), "not a mesh")
    assert session.predict([]).shape == (0, n, 0)


def test_any_field_names_and_widths_no_f_g_assumed(mesh):
    """Imported-style queries (f with 2 channels, vector g) and Neumann-style (no Dirichlet nodes) batch too."""
    torch.manual_seed(0)
    model = build_model({"name": "meshgraphnet", "hidden": 8, "layers": 1, "in_channels": 2, "boundary_channels": 2})
    model.eval()
    rng = np.random.default_rng(3)
    n = mesh.num_points
    qs = [{"f": rng.normal(size=(n, 2)), "g": rng.normal(size=(n, 2)), "bc_dirichlet": rng.random(n) < 0.2}
          for _ in range(3)]
    session = InferenceSession(model, mesh, threads=1)
    batched = session.predict(qs)
    assert session.loop_reason is None and session.seconds.shape == (3,)
    for i, q in enumerate(qs):
        with torch.no_grad():
            want = model(sample_graph(mesh, q)).numpy()
        np.testing.assert_allclose(batched[i], want, rtol=0, atol=1e-5)


def test_a_missing_field_names_the_query(mesh):
    session = InferenceSession(build_model({"name": "gno", "hidden": 8}), mesh, threads=1)
    n = mesh.num_points
    with pytest.raises(DataError, match="query 2 has no field 'g', which other queries give"):
        session.predict([{"f": np.ones(n), "g": np.ones(n)}, {"f": np.ones(n), "g": 0.0}, {"f": np.ones(n)}])
    with pytest.raises(DataError, match="query 1: field 'f' holds NaN"):
        session.predict([{"f": np.ones(n)}, {"f": np.full(n, np.inf)}])


def test_a_model_that_cannot_batch_is_looped_with_a_reason(mesh, monkeypatch):
    from graphops.models.gno import GNO

    torch.manual_seed(0)
    model = build_model({"name": "gno", "hidden": 8}).eval()
    qs = queries(mesh, 4, seed=5)
    batched = InferenceSession(model, mesh, threads=1).predict(qs)
    monkeypatch.setattr(GNO, "batch_queries", False, raising=False)
    session = InferenceSession(model, mesh, threads=1)
    assert "batch_queries = False" in session.loop_reason
    np.testing.assert_allclose(session.predict(qs), batched, rtol=0, atol=1e-5)
    monkeypatch.undo()
    small = InferenceSession(model, mesh, threads=1, max_batch_nodes=mesh.num_points)  # one query per pass, by size
    assert small.loop_reason is None
    np.testing.assert_allclose(small.predict(qs), batched, rtol=0, atol=1e-5)
