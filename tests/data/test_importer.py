"""graphops.data.importer: specs, every bad-input error (naming the file), resume, skip-bad, vectors, time series.

Oracles: the arrays of the files themselves (written here with meshio, or the
NGSolve files shipped in tests/data/ngsolve_files); a fresh import for resumed ones.
"""
from __future__ import annotations

import json
from pathlib import Path

import meshio
import numpy as np
import pytest

from graphops.data import MeshDataset
from graphops.data import importer as importer_module
from graphops.data.import_spec import load_spec, parse_spec
from graphops.data.importer import find_sources, import_dataset
from graphops.data.shards import read_shard
from graphops.errors import ConfigError, DataError

NGSOLVE = Path(__file__).parent / "ngsolve_files"
SPEC = {"inputs": ["k"], "targets": ["T"]}


def square_mesh(n: int = 4, z: bool = False):
    """An n x n grid of the unit square in triangles: points (N, 2) or (N, 3), triangles (M, 3)."""
    xs = np.linspace(0, 1, n)
    pts = np.array([(x, y) for y in xs for x in xs])
    tri = []
    for j in range(n - 1):
        for i in range(n - 1):
            a = j * n + i
            tri += [(a, a + 1, a + n + 1), (a, a + n + 1, a + n)]
    if z:
        pts = np.hstack([pts, np.zeros((len(pts), 1))])
    return pts, np.array(tri)


def write(path: Path, point_data=None, cells=None, points=None, cell_data=None, field_data=None) -> Path:
    """A VTU file (VTK's FieldData added by hand for ``field_data``: meshio reads it but does not write it)."""
    pts, tri = square_mesh(z=True)
    points = pts if points is None else points
    cells = [("triangle", tri)] if cells is None else cells
    if point_data is None:
        point_data = {"k": 1 + points[:, 0], "T": points[:, 0] * points[:, 1]}
    mesh = meshio.Mesh(points, cells, point_data=point_data, cell_data=cell_data or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    meshio.write(path, mesh, binary=not field_data)
    if field_data:
        arrays = "".join(f'<DataArray type="Float64" Name="{k}" NumberOfTuples="1" format="ascii">{float(v[0])!r}'
                         "</DataArray>" for k, v in field_data.items())
        text = path.read_text().replace("<UnstructuredGrid>", f"<UnstructuredGrid><FieldData>{arrays}</FieldData>", 1)
        path.write_text(text)
    return path


def good_files(folder: Path, n: int) -> list:
    pts, _ = square_mesh()
    return [write(folder / f"s{i:02d}.vtu", {"k": 1 + i + pts[:, 0], "T": i * pts[:, 1]}) for i in range(n)]


# ------------------------------------------------------------------ spec
def test_spec_parsing_and_yaml(tmp_path):
    spec = parse_spec({"inputs": "k, q", "targets": ["T"], "boundary": {"marker": "bc", "values": "T_bc"},
                       "family": "shape"})
    assert spec.inputs == ("k", "q") and spec.targets == ("T",)
    assert spec.scalars == ("shape",)  # the family is a scalar
    assert spec.point_fields == ["k", "q", "T", "bc", "T_bc"]
    assert spec.input_fields == ["k", "q", "bc", "T_bc"]
    yaml_file = tmp_path / "spec.yaml"
    yaml_file.write_text("inputs: [E, body_force]\ntargets: [displacement]\nboundary:\n  groups: [fixed]\n")
    loaded = load_spec(yaml_file)
    assert loaded.boundary_groups == ("fixed",) and loaded.targets == ("displacement",)
    assert parse_spec(loaded.to_dict()) == loaded


@pytest.mark.parametrize("raw, key", [
    ({"inputs": ["k"]}, "targets"),
    ({"targets": ["T"], "colour": 1}, "colour"),
    ({"inputs": ["T"], "targets": ["T"]}, "also an input"),
    ({"targets": ["T"], "boundary": {"groups": ["a"], "marker": "m"}}, "not both"),
    ({"targets": ["T"], "boundary": {"side": "a"}}, "boundary.side"),
    ({"targets": ["T", "T"]}, "twice"),
    ({"targets": ["T"], "scalars_csv": "x.csv"}, "scalars"),
])
def test_bad_specs_name_the_key(raw, key):
    with pytest.raises(ConfigError, match=key):
        parse_spec(raw)


def test_bad_yaml_spec_names_the_file(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("targets: [T\n")
    with pytest.raises(ConfigError, match="spec.yaml.*not valid YAML"):
        load_spec(path)


def test_scalars_from_csv_and_field_data(tmp_path):
    pts, _ = square_mesh()
    a = write(tmp_path / "files" / "a.vtu", field_data={"load": np.array([2.5])})
    b = write(tmp_path / "files" / "b.vtu", field_data={"load": np.array([-1.0])})
    out = import_dataset([a, b], {**SPEC, "scalars": ["load"]}, tmp_path / "fd", progress=False)
    ds = MeshDataset(out)
    assert ds.manifest["channels"]["in_channels"] == 2
    np.testing.assert_allclose(ds[0].f[:, 1].numpy(), 2.5)
    np.testing.assert_allclose(ds[1].f[:, 1].numpy(), -1.0)
    np.testing.assert_allclose(ds[0].f[:, 0].numpy(), 1 + pts[:, 0], rtol=1e-6)
    csv = tmp_path / "files" / "params.csv"  # beside the meshes: the folder scan leaves it out
    csv.write_text("file,load,shape\na.vtu,7,1\nb,8,0\n")
    out = import_dataset([a, b], {**SPEC, "scalars": ["load"], "family": "shape", "scalars_csv": str(csv)},
                         tmp_path / "csv", progress=False)
    ds = MeshDataset(out)
    assert [float(ds[i].f[0, 1]) for i in range(2)] == [7.0, 8.0]
    assert list(ds.families_of_items()) == [1, 0]
    write(tmp_path / "files" / "c.vtu")
    with pytest.raises(DataError, match="c.vtu: has no row in the scalars CSV"):
        import_dataset(tmp_path / "files", {**SPEC, "scalars": ["load"], "scalars_csv": str(csv)},
                       tmp_path / "csv2", progress=False)


# ------------------------------------------------------------------ bad input, one line naming the file
def _bad_import(tmp_path, bad: Path, spec=SPEC) -> str:
    good = good_files(tmp_path / "files", 2)
    with pytest.raises(DataError) as info:
        import_dataset(good + [bad], spec, tmp_path / "out", progress=False)
    message = str(info.value)
    line = next(line for line in message.splitlines() if bad.name in line)
    return line


def test_missing_field_names_file_and_field(tmp_path):
    pts, _ = square_mesh()
    line = _bad_import(tmp_path, write(tmp_path / "bad.vtu", {"T": pts[:, 0]}))
    assert "bad.vtu: has no point field 'k'" in line and "'T'" in line


def test_cell_data_where_point_data_is_expected(tmp_path):
    pts, tri = square_mesh()
    bad = write(tmp_path / "cells.vtu", {"T": pts[:, 0]}, cell_data={"k": [np.ones(len(tri))]})
    assert "cells.vtu: field 'k' is cell data" in _bad_import(tmp_path, bad)


def test_nan_values(tmp_path):
    pts, _ = square_mesh()
    k = 1 + pts[:, 0]
    k[3] = np.nan
    assert "nan.vtu: point field 'k' has NaN or infinite values at 1 node(s) (first: node 3)" in _bad_import(
        tmp_path, write(tmp_path / "nan.vtu", {"k": k, "T": pts[:, 0]}))


def test_inconsistent_components(tmp_path):
    pts, _ = square_mesh()
    bad = write(tmp_path / "vec.vtu", {"k": 1 + pts[:, 0], "T": np.stack([pts[:, 0], pts[:, 1]], 1)})
    assert "vec.vtu: point field 'T' has 2 component(s) per node, but 1 in" in _bad_import(tmp_path, bad)


def test_mesh_without_volume_cells(tmp_path):
    pts, _ = square_mesh()
    lines = np.array([[i, i + 1] for i in range(len(pts) - 1)])
    bad = write(tmp_path / "lines.vtu", cells=[("line", lines)])
    assert "lines.vtu: the mesh has no 2D or 3D volume cells" in _bad_import(tmp_path, bad)
    pts3 = np.hstack([pts[:, :2], (pts[:, :1] ** 2)])  # a curved surface in 3D: triangles only
    _, tri = square_mesh()
    surface = write(tmp_path / "surface.vtu", points=pts3, cells=[("triangle", tri)])
    good = good_files(tmp_path / "files3", 1)
    with pytest.raises(DataError, match="surface.vtu: has only surface cells"):
        import_dataset([surface] + good, SPEC, tmp_path / "out3", progress=False)


def test_mixed_2d_and_3d(tmp_path):
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    bad = write(tmp_path / "tet.vtu", {"k": np.ones(4), "T": np.zeros(4)}, cells=[("tetra", np.array([[0, 1, 2, 3]]))],
                points=pts)
    line = _bad_import(tmp_path, bad)
    assert "tet.vtu: is a 3D mesh, but" in line and "s00.vtu is 2D" in line


def test_unreadable_and_missing_inputs(tmp_path):
    bad = tmp_path / "broken.vtu"
    bad.write_text("<VTKFile> not really")
    assert "broken.vtu" in _bad_import(tmp_path, bad)
    with pytest.raises(ConfigError, match="not found"):
        find_sources(tmp_path / "nope")
    with pytest.raises(ConfigError, match="no file matches"):
        find_sources(str(tmp_path / "*.nothing"))


# ------------------------------------------------------------------ resume, skip-bad
def test_interrupted_import_resumes_without_redoing_shards(tmp_path, monkeypatch):
    files = good_files(tmp_path / "files", 6)
    real = importer_module.import_sample
    calls = []

    def interrupted(spec, source, reference, with_targets=True):
        calls.append(source.path)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(spec, source, reference, with_targets)

    monkeypatch.setattr(importer_module, "import_sample", interrupted)
    with pytest.raises(KeyboardInterrupt):
        import_dataset(files, SPEC, tmp_path / "out", shard_size=2, progress=False)
    shards = tmp_path / "out" / "shards"
    kept = {p.name: p.stat().st_mtime_ns for p in shards.glob("*.npz")}
    assert sorted(kept) == ["shard-00000.npz", "shard-00001.npz"]
    assert not json.loads((tmp_path / "out" / "manifest.json").read_text())["complete"]
    monkeypatch.setattr(importer_module, "import_sample", real)
    calls.clear()
    out = import_dataset(files, SPEC, tmp_path / "out", shard_size=2, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in shards.glob("*.npz") if p.name in kept} == kept
    fresh = import_dataset(files, SPEC, tmp_path / "fresh", shard_size=2, progress=False)
    for name in ("shard-00000.npz", "shard-00001.npz", "shard-00002.npz"):
        a, b = read_shard(out / "shards" / name), read_shard(fresh / "shards" / name)
        assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)
    with pytest.raises(ConfigError, match="different dataset"):
        import_dataset(files[:3], SPEC, out, shard_size=2, progress=False)


def test_skip_bad_reports_and_keeps_the_rest(tmp_path):
    files = good_files(tmp_path / "files", 5)
    pts, _ = square_mesh()
    files[2] = write(files[2], {"k": 1 + pts[:, 0]})  # no target T
    with pytest.raises(DataError, match=r"s02.vtu: has no point field 'T'"):
        import_dataset(files, SPEC, tmp_path / "stop", shard_size=2, progress=False)
    assert (tmp_path / "stop" / "shards" / "shard-00000.npz").exists()  # imported before the bad one: kept
    out = import_dataset(files, SPEC, tmp_path / "skip", shard_size=2, skip_bad=True, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["indices"] == [0, 1, 3, 4]
    assert [e["index"] for e in manifest["skipped"]] == [2] and "s02.vtu" in manifest["skipped"][0]["problem"]
    ds = MeshDataset(out)
    assert list(ds.sample_ids()) == [0, 1, 3, 4]
    np.testing.assert_allclose(ds[2].y[:, 0].numpy(), 3 * pts[:, 1], rtol=1e-6)  # item 2 is file 3


def test_two_workers_write_the_same_shards(tmp_path):
    files = good_files(tmp_path / "files", 4)
    one = import_dataset(files, SPEC, tmp_path / "one", shard_size=2, progress=False)
    two = import_dataset(files, SPEC, tmp_path / "two", shard_size=2, workers=2, progress=False)
    for name in ("shard-00000.npz", "shard-00001.npz"):
        assert (one / "shards" / name).read_bytes() == (two / "shards" / name).read_bytes()


# ------------------------------------------------------------------ what is stored
def test_ngsolve_files_scalar_target_and_marked_boundary(tmp_path):
    spec = {"inputs": ["k", "q"], "targets": ["T"], "boundary": {"marker": "dirichlet", "values": "T_bc"}}
    out = import_dataset(NGSOLVE / "heat2d", spec, tmp_path / "heat", progress=False)
    ds = MeshDataset(out)
    files = sorted((NGSOLVE / "heat2d").glob("*.vtu"))
    assert len(ds) == len(files) and ds.manifest["channels"] == {"dim": 2, "in_channels": 2, "boundary_channels": 1,
                                                                 "out_channels": 1}
    for i, path in enumerate(files):
        raw = meshio.read(path)
        d = ds[i]
        np.testing.assert_allclose(d.pos.numpy(), raw.points[:, :2], rtol=1e-6)
        np.testing.assert_allclose(d.y[:, 0].numpy(), raw.point_data["T"], rtol=1e-6)
        np.testing.assert_allclose(d.f.numpy(), np.stack([raw.point_data["k"], raw.point_data["q"]], 1), rtol=1e-6)
        marked = raw.point_data["dirichlet"] != 0
        assert np.array_equal(d.bc_dirichlet.numpy(), marked)
        np.testing.assert_allclose(d.g[:, 0].numpy(), np.where(marked, raw.point_data["T_bc"], 0), rtol=1e-6)
        assert marked.any() and np.all(d.boundary_mask.numpy()[marked])  # marked nodes are on the mesh boundary


def test_ngsolve_files_vector_target(tmp_path):
    spec = {"inputs": ["E", "body_force"], "targets": ["displacement"], "boundary": {"marker": "fixed"}}
    out = import_dataset(NGSOLVE / "elastic3d", spec, tmp_path / "el", progress=False)
    ds = MeshDataset(out)
    assert ds.manifest["targets"] == [{"name": "displacement", "components": 3}]
    assert ds.manifest["channels"]["in_channels"] == 4
    raw = meshio.read(sorted((NGSOLVE / "elastic3d").glob("*.vtu"))[0])
    d = ds[0]
    assert tuple(d.y.shape) == (len(raw.points), 3) and tuple(d.f.shape) == (len(raw.points), 4)
    np.testing.assert_allclose(d.y.numpy(), raw.point_data["displacement"], rtol=1e-5, atol=1e-7)
    assert set(ds.mesh(0).cells) == {"tetra"}


def test_quads_and_physical_groups(tmp_path):
    """A gmsh .msh file (binary, meshio-written) with quads, node data and a named boundary group."""
    pts, _ = square_mesh(3, z=True)
    quads = np.array([[0, 1, 4, 3], [1, 2, 5, 4], [3, 4, 7, 6], [4, 5, 8, 7]])
    bottom = np.array([[0, 1], [1, 2]])
    mesh = meshio.Mesh(pts, [("line", bottom), ("quad", quads)], point_data={"k": pts[:, 0], "T": pts[:, 1]},
                       cell_data={"gmsh:physical": [np.array([1, 1]), np.array([2, 2, 2, 2])],
                                  "gmsh:geometrical": [np.array([1, 1]), np.array([1, 1, 1, 1])]},
                       field_data={"bottom": np.array([1, 1]), "plate": np.array([2, 2])})
    path = tmp_path / "quads.msh"
    meshio.write(path, mesh, file_format="gmsh22", binary=True)
    out = import_dataset([path], {**SPEC, "boundary": {"groups": ["bottom"]}}, tmp_path / "q", progress=False)
    ds = MeshDataset(out)
    np.testing.assert_array_equal(ds.mesh(0).cells["quad"], quads)
    assert np.flatnonzero(ds[0].bc_dirichlet.numpy()).tolist() == [0, 1, 2]
    np.testing.assert_allclose(ds[0].y[:, 0].numpy(), pts[:, 1])
    with pytest.raises(DataError, match="quads.msh: no physical group 'top'"):
        import_dataset([path], {**SPEC, "boundary": {"groups": ["top"]}}, tmp_path / "q2", progress=False)


def test_time_series_xdmf_is_many_samples(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # meshio writes the .h5 next to the working directory
    pts, tri = square_mesh()
    path = tmp_path / "series.xdmf"
    with meshio.xdmf.TimeSeriesWriter(path) as writer:
        writer.write_points_cells(pts, [("triangle", tri)])
        for step, t in enumerate((0.0, 0.5, 1.0)):
            writer.write_data(t, point_data={"k": np.full(len(pts), 1.0 + step), "T": t * pts[:, 0]})
    sources = find_sources(path)
    assert [s.label for s in sources] == [f"{path}@{k}" for k in range(3)]
    out = import_dataset(path, {**SPEC, "scalars": ["time"]}, tmp_path / "ts", progress=False)
    ds = MeshDataset(out)
    assert len(ds) == 3
    for step, t in enumerate((0.0, 0.5, 1.0)):
        np.testing.assert_allclose(ds[step].y[:, 0].numpy(), t * pts[:, 0], rtol=1e-6)
        np.testing.assert_allclose(ds[step].f[:, 1].numpy(), t)  # the step's time as a scalar channel


def test_geometry_only_inputs_reach_a_model(tmp_path):
    """No input fields: f has 0 channels; the normaliser and a model built from the manifest still work."""
    import torch

    from graphops.data.imported import model_config_for
    from graphops.models import build_model
    from graphops.train.normalize import FieldNormalizer

    out = import_dataset(good_files(tmp_path / "files", 2), {"targets": ["T"]}, tmp_path / "geo", progress=False)
    ds = MeshDataset(out)
    assert tuple(ds[0].f.shape) == (16, 0)
    norm = FieldNormalizer(required=("y",)).fit([ds[0], ds[1]])
    assert norm.scales["f"].numel() == 0
    for name in ("meshgraphnet", "nuno"):
        config = model_config_for({"name": name}, ds.manifest)
        assert config["dim"] == 2 and config["out_channels"] == 1
        model = build_model(config)
        if name == "nuno":
            model.fit_decomposition([ds[0]])
        data = norm(ds[0])
        data.batch = torch.zeros(16, dtype=torch.long)
        assert tuple(model(data).shape) == (16, 1)


def test_cli_spec_file_and_options(tmp_path, capsys):
    from graphops.cli import main

    files = good_files(tmp_path / "files", 2)
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "loads.csv").write_text("file,load\ns00.vtu,1.5\ns01.vtu,2.5\n")
    spec = tmp_path / "specs" / "spec.yaml"
    spec.write_text("inputs: [k]\ntargets: [T]\nscalars: [load]\nscalars_csv: loads.csv\n")  # relative to the YAML
    assert main(["import", str(tmp_path / "files"), "--spec", str(spec), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    assert "imported 2 of 2 sample(s), 2D: 2 input channel(s), 1 target channel(s)" in capsys.readouterr().out
    assert [float(MeshDataset(tmp_path / "a")[i].f[0, 1]) for i in range(2)] == [1.5, 2.5]
    assert main(["import", *map(str, files), "--spec", str(spec), "--targets", "T", "--out", str(tmp_path / "b")]) == 2
    assert "--targets and --spec both give the spec" in capsys.readouterr().err
    assert main(["import", str(files[0]), "--inputs", "k", "--out", str(tmp_path / "c")]) == 2
    assert "name the target point fields" in capsys.readouterr().err
