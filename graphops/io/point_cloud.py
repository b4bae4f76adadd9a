"""Point clouds: ``.npy``, ``.csv``, ``.xyz``/``.txt`` and ``.ply`` files <-> :class:`Mesh` without cells."""
from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np

from ..errors import MeshError
from ..mesh import Mesh, planar_points
from ..utils.atomic import atomic_path

PathLike = Union[str, "os.PathLike[str]"]

POINT_CLOUD_EXTENSIONS = (".npy", ".csv", ".xyz", ".txt", ".ply")


def _as_cloud(coords: np.ndarray, point_data: Dict[str, np.ndarray], source: str) -> Mesh:
    if coords.ndim != 2 or coords.shape[0] == 0:
        raise MeshError("the point cloud is empty", source)
    if coords.shape[1] not in (2, 3):
        raise MeshError(f"points need 2 or 3 coordinates, got {coords.shape[1]} columns", source)
    return Mesh(coords, {}, point_data, source=source).validate()


def read_point_cloud(path: PathLike) -> Mesh:
    """Read a point cloud into a :class:`Mesh` with no cells.

    Parameters
    ----------
    path : path-like
        ``.npy``: array ``(N, 2)`` or ``(N, 3)``. ``.csv``: columns ``x, y[, z]``
        (any other named columns become point data; without a header the first
        2 or 3 columns are coordinates). ``.xyz``/``.txt``: whitespace-separated
        ``x y z`` rows (extra columns become point data ``c3, c4...``; a
        numerically-zero z column is dropped, as for planar meshes). ``.ply``:
        vertices (and their properties) through meshio.

    Returns
    -------
    Mesh
        ``points`` (N, d) and ``point_data``; ``cells`` is empty.
    """
    from .read import check_readable

    p = check_readable(path)
    ext = p.suffix.lower()
    src = str(p)
    try:
        if ext == ".npy":
            try:
                arr = np.load(p, allow_pickle=False)
            except (ValueError, OSError, EOFError):
                raise
            except Exception as exc:  # a corrupt header makes numpy raise SyntaxError, TokenError...
                raise MeshError(f"cannot read the .npy file, its header is corrupt ({type(exc).__name__})", p) from None
            if arr.ndim != 2:
                raise MeshError(f"expected an array of shape (N, 2) or (N, 3), got {arr.shape}", p)
            return _as_cloud(arr.astype(np.float64), {}, src)
        if ext == ".csv":
            return _read_csv(p)
        if ext in (".xyz", ".txt"):
            arr = _loadtxt(p)
            ncoord = 3 if arr.shape[1] >= 3 else arr.shape[1]
            extra = {f"c{j}": arr[:, j] for j in range(ncoord, arr.shape[1])}
            return _as_cloud(planar_points(arr[:, :ncoord], 0), extra, src)
        if ext == ".ply":
            from .read import _read_with_meshio

            return _read_with_meshio(p)
    except MeshError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise MeshError(f"cannot read the point cloud ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})", p) from None
    raise MeshError(f"unknown point cloud format {ext!r}; use one of {', '.join(POINT_CLOUD_EXTENSIONS)}", p)


def _read_csv(p: Path) -> Mesh:
    with open(p, newline="") as handle:
        first = handle.readline()
    header = [h.strip() for h in next(csv.reader([first]))]
    has_header = any(not _is_number(h) for h in header if h)
    arr = _loadtxt(p, delimiter=",", skiprows=1 if has_header else 0)
    if arr.size == 0:
        raise MeshError("the point cloud is empty", p)
    if has_header:
        if arr.shape[1] != len(header):
            raise MeshError(f"the CSV header names {len(header)} columns but the rows have {arr.shape[1]} values", p)
        names = [h.lower() for h in header]
        coord_cols = [names.index(a) for a in ("x", "y", "z") if a in names]
        if len(coord_cols) < 2:
            raise MeshError(f"a CSV header needs columns x and y (found {header})", p)
        extra = {header[j]: arr[:, j] for j in range(arr.shape[1]) if j not in coord_cols}
        return _as_cloud(arr[:, coord_cols], extra, str(p))
    ncoord = 3 if arr.shape[1] >= 3 else arr.shape[1]
    return _as_cloud(arr[:, :ncoord], {f"c{j}": arr[:, j] for j in range(ncoord, arr.shape[1])}, str(p))


def _loadtxt(path: Path, **kwargs) -> np.ndarray:
    """``np.loadtxt`` (2-D) without its "input contained no data" warning: an empty cloud is an error here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return np.loadtxt(path, ndmin=2, **kwargs)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def write_point_cloud(path: PathLike, mesh: Mesh, point_data: Optional[Dict[str, np.ndarray]] = None) -> Path:
    """Write points (and point data) as ``.npy`` (coordinates only), ``.csv`` or ``.xyz``, atomically."""
    p = Path(path)
    data = dict(mesh.point_data)
    data.update(point_data or {})
    ext = p.suffix.lower()
    with atomic_path(p) as tmp:
        if ext == ".npy":
            np.save(tmp, mesh.points)
        elif ext in (".csv", ".xyz", ".txt"):
            points = mesh.points
            if ext != ".csv" and data and points.shape[1] == 2:
                # .xyz has no header: fields come after the z column, so a 2D cloud gets z = 0
                points = np.hstack([points, np.zeros((mesh.num_points, 1))])
            cols = [points] + [np.asarray(v).reshape(mesh.num_points, -1) for v in data.values()]
            names = list("xyz"[: points.shape[1]])
            for k, v in data.items():
                width = np.asarray(v).reshape(mesh.num_points, -1).shape[1]
                names += [k] if width == 1 else [f"{k}_{j}" for j in range(width)]
            delim = "," if ext == ".csv" else " "
            np.savetxt(tmp, np.hstack(cols), delimiter=delim, header=delim.join(names) if ext == ".csv" else "", comments="")
        else:
            raise MeshError(f"cannot write a point cloud as {ext!r}; use .npy, .csv or .xyz (or write_mesh for .vtu)", p)
    return p
