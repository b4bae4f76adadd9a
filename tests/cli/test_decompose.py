"""``graphops decompose``: files ParaView and meshio read back, with the right labels; bad input errors."""
from __future__ import annotations

import meshio
import numpy as np
import pytest

from graphops.cli import main
from graphops.decomposition import kdtree_decompose


def clustered(n: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, d)) ** 2


@pytest.mark.parametrize("d, cell", [(2, "quad"), (3, "hexahedron")])
def test_writes_labels_boxes_and_png(tmp_path, capsys, d, cell):
    x = clustered(600, d)
    np.save(tmp_path / "cloud.npy", x)
    out = tmp_path / "parts.vtu"
    assert main(["decompose", str(tmp_path / "cloud.npy"), "--n", "6", "-o", str(out)]) == 0
    assert "made 6 subdomains (requested 6)" in capsys.readouterr().out
    back = meshio.read(out)
    assert np.allclose(back.points[:, :d], x)
    expected = kdtree_decompose(x, 6)
    assert np.array_equal(back.point_data["subdomain"].reshape(-1), expected.labels)
    boxes = meshio.read(tmp_path / "parts_boxes.vtu")
    assert boxes.cells[0].type == cell and len(boxes.cells[0].data) == 6
    assert np.array_equal(boxes.cell_data["subdomain"][0].reshape(-1), np.arange(6))
    corners = boxes.points[:, :d].reshape(6, -1, d)
    assert np.allclose(corners.min(axis=1), expected.boxes[:, 0]) and np.allclose(corners.max(axis=1), expected.boxes[:, 1])
    png = (tmp_path / "parts.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_mesh_input_keeps_cells_and_overlap_boxes(tmp_path, capsys):
    x = clustered(300, 2, 1)
    src = tmp_path / "mesh.vtu"
    from scipy.spatial import Delaunay

    meshio.write(src, meshio.Mesh(np.c_[x, np.zeros(len(x))], [("triangle", Delaunay(x).simplices)]))
    out = tmp_path / "o.vtu"
    png = tmp_path / "pic.png"
    assert main(["decompose", str(src), "--n", "4", "-o", str(out), "--png", str(png), "--overlap", "0.2"]) == 0
    back = meshio.read(out)
    assert back.cells_dict["triangle"].shape[1] == 3
    assert set(np.unique(back.point_data["subdomain"])) == {0, 1, 2, 3}
    dec = kdtree_decompose(x, 4, overlap=0.2)
    corners = meshio.read(tmp_path / "o_boxes.vtu").points[:, :2].reshape(4, 4, 2)
    assert np.allclose(corners.min(axis=1), dec.halo_boxes[:, 0])
    assert png.exists()


def test_fewer_subdomains_warns(tmp_path, capsys):
    np.save(tmp_path / "c.npy", clustered(100, 2))
    assert main(["decompose", str(tmp_path / "c.npy"), "--n", "16", "--min-points", "20", "-o",
                 str(tmp_path / "p.vtu"), "--no-png"]) == 0
    io = capsys.readouterr()
    assert "requested 16" in io.out and "graphops: warning:" in io.err
    assert not (tmp_path / "p.png").exists()


def test_bad_input_errors(tmp_path, capsys):
    np.save(tmp_path / "five.npy", clustered(5, 2))
    assert main(["decompose", str(tmp_path / "five.npy"), "--n", "8", "-o", str(tmp_path / "a.vtu")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("graphops: error:") and "8 subdomains from 5 points" in err
    bad = clustered(50, 3)
    bad[7, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    assert main(["decompose", str(tmp_path / "nan.npy"), "-o", str(tmp_path / "b.vtu")]) == 2
    assert "NaN" in capsys.readouterr().err
    assert main(["decompose", str(tmp_path / "five.npy"), "--n", "0", "-o", str(tmp_path / "c.vtu")]) == 2
    assert "--n must be at least 1" in capsys.readouterr().err
    assert not any(p.suffix == ".vtu" for p in tmp_path.iterdir())
