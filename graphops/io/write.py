"""Write a :class:`Mesh` (with predictions as point data) to any format meshio writes, atomically."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np

from ..errors import MeshError
from ..mesh import Mesh
from ..utils.atomic import atomic_path

PathLike = Union[str, "os.PathLike[str]"]


def to_meshio(mesh: Mesh, point_data: Optional[Dict[str, np.ndarray]] = None):
    """Convert a :class:`Mesh` (plus extra point fields) into a ``meshio.Mesh`` with 3D points."""
    import meshio

    data = dict(mesh.point_data)
    for name, values in (point_data or {}).items():
        arr = values.detach().cpu().numpy() if hasattr(values, "detach") else np.asarray(values)
        if len(arr) != mesh.num_points:
            raise MeshError(f"point field {name!r} has {len(arr)} rows for {mesh.num_points} nodes", mesh.source)
        data[name] = arr
    points = mesh.points
    if points.shape[1] < 3:
        points = np.hstack([points, np.zeros((len(points), 3 - points.shape[1]))])
    cells = [(t, c) for t, c in mesh.iter_cells()]
    if not cells:  # a point cloud: one vertex cell per point so viewers show it
        cells = [("vertex", np.arange(mesh.num_points, dtype=np.int64)[:, None])]
    cell_data = {}
    for name, per_type in mesh.cell_data.items():
        if all(t in per_type for t, _ in cells):
            cell_data[name] = [np.asarray(per_type[t]) for t, _ in cells]
    return meshio.Mesh(points, cells, point_data={k: np.asarray(v) for k, v in data.items()}, cell_data=cell_data)


def write_mesh(path: PathLike, mesh: Mesh, point_data: Optional[Dict[str, np.ndarray]] = None) -> Path:
    """Write ``mesh`` with extra point fields, choosing the format by extension.

    The file is written to a temporary name beside ``path`` and moved into
    place, so an interrupted write never leaves a half-written file. ``.xdmf``
    is written with inline XML data (one self-contained file). ``.msh`` is gmsh
    4.1 ASCII.

    Parameters
    ----------
    path : path-like
        ``.vtu`` (ParaView), ``.xdmf``, ``.msh``, ``.vtk`` or any meshio format.
    mesh : Mesh
    point_data : dict of str to ndarray (N,) or (N, c), optional
        Extra fields (e.g. predictions), numpy arrays or torch tensors.

    Returns
    -------
    Path
    """
    import meshio

    p = Path(path)
    ext = p.suffix.lower()
    if ext not in meshio.extension_to_filetypes:
        raise MeshError(f"cannot write format {ext or '(no extension)'!r}; use .vtu, .xdmf, .msh or another meshio format", p)
    raw = to_meshio(mesh, point_data)
    with atomic_path(p) as tmp:
        try:
            if ext == ".xdmf":
                meshio.xdmf.write(str(tmp), raw, data_format="XML")
            elif ext == ".msh":
                _prepare_for_gmsh(raw)
                meshio.write(str(tmp), raw, file_format="gmsh22", binary=True)
            else:
                meshio.write(str(tmp), raw)
        except OSError:
            raise
        except Exception as exc:
            raise MeshError(f"meshio could not write this mesh ({type(exc).__name__}: {exc})", p) from None
    return p


def _prepare_for_gmsh(raw) -> None:
    """gmsh needs tags per cell (default 0) and 1, 3 or 9 components per field (2 -> padded to 3).

    """
    for name, values in raw.point_data.items():
        if values.ndim == 2 and values.shape[1] == 2:
            raw.point_data[name] = np.hstack([values, np.zeros((len(values), 1))])
    for key in ("gmsh:physical", "gmsh:geometrical"):
        if key not in raw.cell_data:
            raw.cell_data[key] = [np.zeros(len(b.data), dtype=np.int32) for b in raw.cells]
