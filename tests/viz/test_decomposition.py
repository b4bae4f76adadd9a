"""PNG of a decomposition: 2D and 3D, and its input checks."""
from __future__ import annotations

import numpy as np
import pytest

from graphops.decomposition import kdtree_decompose
from graphops.errors import DataError
from graphops.viz import plot_decomposition, subdomain_colors


def read_png(path):
    from matplotlib.image import imread

    return imread(path)


@pytest.mark.parametrize("d, width_panels", [(2, 1), (3, 3)])
def test_png_2d_and_3d(tmp_path, d, width_panels):
    x = np.random.default_rng(0).uniform(size=(500, d)) ** 2
    dec = kdtree_decompose(x, 5, overlap=0.1)
    path = plot_decomposition(x, dec.labels, dec.boxes, tmp_path / "p.png", halo_boxes=dec.halo_boxes)
    img = read_png(path)
    h, w = img.shape[:2]
    assert w / h == pytest.approx(5.2 * width_panels / 5.0, rel=0.05)
    # every subdomain colour appears in the picture
    rgb = img[..., :3].reshape(-1, 3)
    for color in subdomain_colors(5)[:, :3]:
        assert (np.abs(rgb - color).max(axis=1) < 0.02).any()
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically, no temporary file left


def test_colors_are_distinct():
    c = subdomain_colors(12)
    assert c.shape == (12, 4)
    assert len({tuple(np.round(v, 4)) for v in c}) == 12


def test_bad_inputs(tmp_path):
    x = np.random.default_rng(1).uniform(size=(50, 2))
    boxes = np.array([[[0.0, 0.0], [1.0, 1.0]]])
    with pytest.raises(DataError, match="labels"):
        plot_decomposition(x, np.zeros(49, dtype=int), boxes, tmp_path / "a.png")
    with pytest.raises(DataError, match=r"\[0, 1\)"):
        plot_decomposition(x, np.full(50, 3), boxes, tmp_path / "a.png")
    with pytest.raises(DataError, match="boxes"):
        plot_decomposition(x, np.zeros(50, dtype=int), boxes[:, :, :1], tmp_path / "a.png")
    assert not (tmp_path / "a.png").exists()
