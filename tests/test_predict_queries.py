"""graphops.predict with many queries on one mesh: equal to one call per query, errors name the query."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from graphops.data.dataset import sample_graph
from graphops.data.frame import training_frame
from graphops.errors import ConfigError, GraphopsError
from graphops.mesh import Mesh
from graphops.models import build_model
from graphops.predict import Prediction, predict, query_inputs, query_path
from graphops.train.checkpoint import save_checkpoint
from graphops.train.normalize import FieldNormalizer

SOURCES = ["sin(pi*x)", "0", "3*x*y", "40*cos(2*y)", "1"]  # the 4th is large: divided into the training magnitudes
BOUNDARIES = ["x*y", "1 + x", "0.5", "y**2", "x - y"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def mesh(cutout_mesh):
    return cutout_mesh


def checkpoint(path, mesh, problem: str, config: dict):
    """A small untrained model saved as ``graphops train`` would: normaliser, problem and training frame."""
    rng = np.random.default_rng(4)
    n = mesh.num_points
    graphs = [sample_graph(mesh, {"f": rng.normal(size=n), "g": rng.normal(size=n), "y": rng.normal(size=(n, 1)),
                                  "a": np.ones(n), "bc_dirichlet": np.zeros(n, bool)}) for _ in range(3)]
    torch.manual_seed(0)
    return save_checkpoint(path, build_model(config).eval(), normalizer=FieldNormalizer().fit(graphs),
                           extra={"dataset": {"problem": problem}, "frame": training_frame(graphs)})


@pytest.mark.parametrize("problem, config", [
    ("poisson-dirichlet", {"name": "beno", "hidden": 16, "layers": 2, "boundary_layers": 1}),
    ("poisson-neumann", {"name": "meshgraphnet", "hidden": 16, "layers": 2}),
])
def test_batched_queries_equal_one_call_per_query(mesh, tmp_path, problem, config):
    ckpt = checkpoint(tmp_path / "m.pt", mesh, problem, config)
    scaled = Mesh(mesh.points * 3.0 + 1.0, dict(mesh.cells))  # mapped into the training frame
    looped = [predict(ckpt, scaled, source=s, boundary=b, png=False, compare_fem=True)
              for s, b in zip(SOURCES, BOUNDARIES)]
    batched = predict(ckpt, scaled, source=SOURCES, boundary=BOUNDARIES, png=False, compare_fem=True)
    assert isinstance(batched, list) and len(batched) == len(SOURCES)
    assert all(isinstance(r, Prediction) for r in batched)
    assert any("divided by" in note for note in looped[3].notes)  # the amplitude law was exercised
    for one, many in zip(looped, batched):
        scale = np.abs(one.prediction).max()
        np.testing.assert_allclose(many.prediction, one.prediction, rtol=0, atol=1e-5 * scale)
        assert many.notes == one.notes and many.scale == one.scale
        # the shared factorisation solves each query's own problem (solve_poisson per query is the oracle)
        fem = one.mesh.point_data["fem"]
        np.testing.assert_allclose(many.mesh.point_data["fem"], fem, rtol=0, atol=1e-9 * np.abs(fem).max())
        assert many.relative_l2 == pytest.approx(one.relative_l2, rel=1e-4)
        np.testing.assert_array_equal(many.mesh.point_data["f"], one.mesh.point_data["f"])
        got, want = many.report.to_dict(), one.report.to_dict()
        assert [e["inside"] for e in got["entries"]] == [e["inside"] for e in want["entries"]]
        np.testing.assert_allclose([e["value"] for e in got["entries"]], [e["value"] for e in want["entries"]],
                                   rtol=1e-5, atol=1e-6)


def test_queries_mappings_write_numbered_files_and_an_index(mesh, tmp_path):
    ckpt = checkpoint(tmp_path / "m.pt", mesh, "poisson-dirichlet", {"name": "gno", "hidden": 8})
    out = tmp_path / "res" / "pred.vtu"
    results = predict(ckpt, mesh, out=out, png=False, compare_fem=True,
                      queries=[{"boundary": "x"}, {"boundary": "y", "source": "1"}])
    assert [r.files["vtu"].name for r in results] == ["pred_000.vtu", "pred_001.vtu"]
    assert all(r.files["ood"].exists() and r.relative_l2 is not None for r in results)
    index = json.loads((tmp_path / "res" / "pred.queries.json").read_text())
    assert [q["inputs"] for q in index["queries"]] == [{"boundary": "x"}, {"boundary": "y", "source": "1"}]
    assert [q["relative_l2"] for q in index["queries"]] == [r.relative_l2 for r in results]
    # the reference solve of each query honours its own boundary values
    from graphops.boundary import boundary_nodes

    on = boundary_nodes(mesh)
    for r, coord in zip(results, (0, 1)):
        np.testing.assert_allclose(r.mesh.point_data["fem"][on], mesh.points[on, coord], atol=1e-12)


def test_a_bad_formula_names_its_query_and_nothing_is_written(mesh, tmp_path):
    ckpt = checkpoint(tmp_path / "m.pt", mesh, "poisson-dirichlet", {"name": "gno", "hidden": 8})
    out = tmp_path / "out" / "p.vtu"
    boundaries = ["x", "y", "1", "x*w", "2"]
    with pytest.raises(GraphopsError, match=r"^query 3: .*unknown name 'w'") as info:
        predict(ckpt, mesh, source="1", boundary=boundaries, out=out)
    assert "\n" not in str(info.value)
    assert not out.parent.exists()


def test_query_inputs_pairing_and_errors():
    specs, many = query_inputs(["a", "b"], ["c", "d"], {"x": 1}, None)
    assert many and specs == [{"source": "a", "boundary": "c", "x": 1}, {"source": "b", "boundary": "d", "x": 1}]
    specs, many = query_inputs("s", ["c", "d"], None, None)  # a single value is shared by every query
    assert specs == [{"source": "s", "boundary": "c"}, {"source": "s", "boundary": "d"}]
    assert query_inputs("s", None, None, None) == ([{"source": "s"}], False)
    with pytest.raises(ConfigError, match="same length, got 2 source value.* and 1 boundary"):
        query_inputs(["a", "b"], ["c"], None, None)
    with pytest.raises(ConfigError, match="not both"):
        query_inputs(["a"], None, None, [{"boundary": "x"}])
    with pytest.raises(ConfigError, match="no queries"):
        query_inputs(None, None, None, [])
    with pytest.raises(ConfigError, match="query 1: must be a mapping"):
        query_inputs(None, None, None, [{"boundary": "x"}, "y"])
    assert query_path("a/b.vtu", 7, 12).name == "b_007.vtu" and query_path("b.vtu", 7, 1200).name == "b_0007.vtu"
