"""The training frame: descriptors of a graph, (de)serialisation, the map into the frame, the OOD report."""
import io

import numpy as np
import pytest
import torch

from graphops.boundary import boundary_nodes
from graphops.data.dataset import sample_graph
from graphops.data.frame import (
    Frame, FrameMap, amplitude_factor, frame_from_graphs, graph_descriptors, map_into, ood_report, training_frame,
)
from graphops.mesh import Mesh


def _edge_lengths(mesh: Mesh) -> np.ndarray:
    """Lengths of the distinct triangle edges (independent of the graph code)."""
    tri = mesh.cells["triangle"]
    edges = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]]), axis=1)
    edges = np.unique(edges, axis=0)
    return np.linalg.norm(mesh.points[edges[:, 0]] - mesh.points[edges[:, 1]], axis=1)


def test_graph_descriptors_of_a_mesh(holes_mesh):
    mesh = Mesh(holes_mesh.points * [2.0, 1.0], holes_mesh.cells)
    f = np.linspace(-1.0, 3.0, mesh.num_points)
    d = graph_descriptors(sample_graph(mesh, {"f": f, "bc": np.zeros(mesh.num_points, dtype=bool)}))
    assert d["num_nodes"] == mesh.num_points
    assert d["extent_x"] == pytest.approx(2.0) and d["extent_y"] == pytest.approx(1.0)
    assert d["aspect"] == pytest.approx(2.0)
    assert d["boundary_share"] == pytest.approx(boundary_nodes(mesh).mean())
    assert d["element_size"] == pytest.approx(np.median(_edge_lengths(mesh)), rel=1e-6)
    assert (d["f.min"], d["f.max"], d["f.absmax"]) == pytest.approx((-1.0, 3.0, 3.0))
    assert "bc.min" not in d  # boolean fields are masks, not ranges


def test_frame_round_trips_through_a_weights_only_checkpoint(holes_mesh, square_mesh):
    graphs = [sample_graph(m, {"f": np.full(m.num_points, v)}) for m, v in ((holes_mesh, 1.0), (square_mesh, -2.0))]
    stored = training_frame(graphs)
    buffer = io.BytesIO()
    torch.save({"extra": {"frame": stored}}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)["extra"]["frame"]
    frame = Frame.from_dict(loaded)
    assert frame.num_samples == 2 and frame.dim == 2
    np.testing.assert_allclose(frame.low, [0, 0], atol=1e-12)
    np.testing.assert_allclose(frame.high, [1, 1], atol=1e-12)
    assert frame.range_of("f.min") == (-2.0, 1.0)
    assert frame.range_of("num_nodes") == tuple(sorted(float(m.num_points) for m in (holes_mesh, square_mesh)))
    with pytest.raises(ValueError):
        Frame.from_dict({"format": 99})


def test_map_into_puts_the_lower_corner_on_the_box_and_scales(holes_mesh):
    frame = Frame.from_box((0.0, 0.0), (1.0, 1.0))
    part = Mesh(holes_mesh.points * [30.0, 10.0] + [500.0, -20.0], holes_mesh.cells)
    frame_map = map_into(frame, part)
    framed = frame_map.points(part.points)
    assert frame_map.scale == pytest.approx(30.0)
    np.testing.assert_allclose(framed.min(axis=0), [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(framed.max(axis=0), [1.0, 1 / 3], atol=1e-12)
    assert FrameMap.identity(2).mesh(part) is part


def _box_graph(low, high):
    """A 4-node graph filling the box ``[low, high]`` (its bounding box is the box)."""
    (x0, y0), (x1, y1) = low, high
    points = np.asarray([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)
    return sample_graph(Mesh(points, {"triangle": np.asarray([[0, 1, 2], [0, 2, 3]])}), {})


def test_frame_follows_where_training_geometries_line_up():
    # rectangles of several proportions sharing their lower-left corner (as generated data with an aspect range):
    # lower sides anchored on both axes, length = the typical longest side (2), not the union box
    corner = frame_from_graphs([_box_graph((0, 0), (2, 1)), _box_graph((0, 0), (1, 2)), _box_graph((0, 0), (2, 2))])
    assert corner.anchors == ("low", "low") and corner.length == pytest.approx(2.0)
    part = Mesh(np.asarray([[10.0, 5.0], [14.0, 5.0], [14.0, 6.0], [10.0, 6.0]]), {"triangle": np.asarray([[0, 1, 2]])})
    framed = map_into(corner, part).points(part.points)
    np.testing.assert_allclose(framed.min(axis=0), [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(framed.max(axis=0), [2.0, 0.5], atol=1e-12)
    # boxes centred on the origin with several proportions: centres anchored
    centred = frame_from_graphs([_box_graph((-1, -0.5), (1, 0.5)), _box_graph((-0.5, -1), (0.5, 1)),
                                 _box_graph((-1, -1), (1, 1))])
    assert centred.anchors == ("centre", "centre")
    framed = map_into(centred, part).points(part.points)
    np.testing.assert_allclose(framed.min(axis=0), [-1.0, -0.25], atol=1e-12)
    np.testing.assert_allclose(framed.max(axis=0), [1.0, 0.25], atol=1e-12)


def test_ood_report_names_the_quantity_and_both_ranges(holes_mesh, square_mesh):
    graphs = [sample_graph(m, {"f": np.full(m.num_points, 1.0)}) for m in (holes_mesh, square_mesh)]
    frame = frame_from_graphs(graphs)
    inside = ood_report(frame, graph_descriptors(graphs[0]))
    assert inside.entries and not inside.outside
    stretched = Mesh(holes_mesh.points * [1.0, 0.25], holes_mesh.cells)
    report = ood_report(frame, graph_descriptors(sample_graph(stretched, {"f": np.full(stretched.num_points, 5.0)})))
    flagged = {e["quantity"] for e in report.outside}
    assert {"aspect", "extent_y", "f.max"} <= flagged
    assert any(w.startswith("aspect is 4, outside the training range 1..1") for w in report.warnings)
    assert report.to_dict()["inside"] is False and "warning: aspect" in "\n".join(report.lines())


def test_amplitude_factor_only_shrinks_inputs_above_the_training_magnitudes(holes_mesh):
    graphs = [sample_graph(holes_mesh, {"f": np.full(holes_mesh.num_points, v), "g": np.full(holes_mesh.num_points, 1.0)})
              for v in (1.0, 2.0, 3.0)]
    frame = frame_from_graphs(graphs)
    n = holes_mesh.num_points
    assert amplitude_factor(frame, {"f": np.full(n, 0.01), "g": np.ones(n)}, ("f", "g")) == 1.0
    assert amplitude_factor(frame, {"f": np.full(n, 40.0), "g": np.ones(n)}, ("f", "g")) == pytest.approx(20.0)
    assert amplitude_factor(frame, {"f": np.full(n, 40.0)}, ()) == 1.0


def test_ood_report_checks_the_balance_of_linear_inputs(holes_mesh):
    n = holes_mesh.num_points
    graphs = [sample_graph(holes_mesh, {"f": np.full(n, v), "g": np.full(n, 2.0)}) for v in (1.0, 2.0, 4.0)]
    frame = frame_from_graphs(graphs)
    balanced = graph_descriptors(sample_graph(holes_mesh, {"f": np.full(n, 3.0), "g": np.full(n, 2.0)}))
    assert not ood_report(frame, balanced, ("f", "g")).outside
    # the same magnitudes one by one, but f dominates g four times more than in any training sample
    skewed = graph_descriptors(sample_graph(holes_mesh, {"f": np.full(n, 4.0), "g": np.full(n, 0.25)}))
    flagged = {e["quantity"] for e in ood_report(frame, skewed, ("f", "g")).outside}
    assert "f.absmax/g.absmax" in flagged
    assert "f.absmax/g.absmax" not in {e["quantity"] for e in ood_report(frame, skewed).entries}
