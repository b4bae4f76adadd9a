"""PNG plots of node fields on meshes (matplotlib, Agg backend: no display needed)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Optional, Sequence, Union

import numpy as np

from ..mesh import Mesh
from ..utils.atomic import atomic_path

PathLike = Union[str, "os.PathLike[str]"]


def _triangles(mesh: Mesh) -> np.ndarray:
    """Triangles ``(T, 3)`` covering the 2D volume cells (quads split in two)."""
    tris = [mesh.cells["triangle"]] if "triangle" in mesh.cells else []
    if "quad" in mesh.cells:
        q = mesh.cells["quad"]
        tris += [q[:, [0, 1, 2]], q[:, [0, 2, 3]]]
    return np.concatenate(tris) if tris else np.zeros((0, 3), dtype=np.int64)


def plot_fields(
    mesh: Mesh,
    fields: Dict[str, np.ndarray],
    path: PathLike,
    title: Optional[str] = None,
    shared_scale: Sequence[str] = (),
) -> Path:
    """Draw each node field in its own panel and save one PNG (atomically).

    2D meshes are drawn with Gouraud-shaded triangles; 3D meshes and point
    clouds as coloured points (3D: projected on the x-y plane).

    Parameters
    ----------
    mesh : Mesh
    fields : dict of str to ndarray, shape (N,)
        Panel title -> values at the nodes (torch tensors accepted).
    path : path-like
        The PNG to write.
    title : str, optional
        Figure title.
    shared_scale : sequence of str
        Panels drawn with one common colour range (e.g. prediction and reference).

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.tri import Triangulation

    values = {k: (v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)).reshape(-1) for k, v in fields.items()}
    shared = [values[k] for k in shared_scale if k in values]
    vmin = min(float(v.min()) for v in shared) if shared else None
    vmax = max(float(v.max()) for v in shared) if shared else None
    n = len(values)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), squeeze=False)
    tris = _triangles(mesh) if mesh.geometric_dim == 2 else np.zeros((0, 3))
    x, y = mesh.points[:, 0], mesh.points[:, 1]
    for ax, (name, v) in zip(axes[0], values.items()):
        lo, hi = (vmin, vmax) if name in shared_scale else (None, None)
        if len(tris):
            art = ax.tripcolor(Triangulation(x, y, tris), v, shading="gouraud", cmap="viridis", vmin=lo, vmax=hi)
        else:
            art = ax.scatter(x, y, c=v, s=4, cmap="viridis", vmin=lo, vmax=hi)
        ax.set_title(name)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(art, ax=ax, shrink=0.8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)
