"""Read any mesh format meshio knows, gmsh ``.geo``/``.msh`` through gmsh, CAD parts, and point clouds."""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Dict, List, Optional, Union

import numpy as np

from ..cells import CELL_CORNERS, CELL_DIM, HIGHER_ORDER
from ..errors import MeshError
from ..gmsh_model import read_gmsh_file
from ..mesh import Mesh, PhysicalGroup, planar_points
from .cad import CAD_EXTENSIONS, check_mesh_size
from .point_cloud import POINT_CLOUD_EXTENSIONS, read_point_cloud

PathLike = Union[str, "os.PathLike[str]"]

GMSH_EXTENSIONS = (".geo", ".msh")

#: Seconds a child process may spend on one .geo or CAD file (None: no limit).
GMSH_CHILD_TIMEOUT = None


def _meshio_extensions() -> List[str]:
    import meshio

    return sorted(meshio.extension_to_filetypes)


def supported_extensions() -> List[str]:
    """Every file extension :func:`read_mesh` accepts."""
    return sorted(set(_meshio_extensions()) | set(GMSH_EXTENSIONS) | set(CAD_EXTENSIONS) | set(POINT_CLOUD_EXTENSIONS))


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for ext in sorted(supported_extensions(), key=len, reverse=True):
        if name.endswith(ext):
            return ext
    return path.suffix.lower()


def check_readable(path: PathLike) -> Path:
    """Raise :class:`MeshError` unless ``path`` is an existing, non-empty file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise MeshError("file not found", p)
    if p.is_dir():
        raise MeshError("is a folder, not a mesh file", p)
    if p.stat().st_size == 0:
        raise MeshError("file is empty", p)
    return p


def read_mesh(path: PathLike, dim: Optional[int] = None, validate: bool = True, mesh_size: Optional[float] = None) -> Mesh:
    """Read a mesh, CAD part or point cloud file into a :class:`Mesh`.

    Parameters
    ----------
    path : path-like
        ``.msh`` (v2/v4, ascii/binary; partitioned files too) goes through gmsh,
        with meshio as the fallback; ``.geo`` scripts are run and meshed by
        gmsh and CAD parts (``.step``/``.stp``/``.iges``/``.igs``/``.brep``)
        imported and meshed by gmsh's OpenCASCADE kernel, both in a child
        process (:mod:`graphops.io.isolated`) that nothing in the file can
        use to end the caller; ``.npy``/``.csv``/``.xyz``/``.ply`` are point
        clouds (a ``.ply`` with faces is a surface mesh); every other format
        meshio reads (``.vtu``, ``.vtk``, ``.inp``, ``.xdmf``, ``.med``,
        ``.mesh``...) goes through meshio.
    dim : int, optional
        Dimension to mesh a ``.geo`` or CAD file in (default: its highest entity dimension).
    validate : bool
        Check coordinates and connectivity (:meth:`Mesh.validate`).
    mesh_size : float, optional
        CAD files only: largest element size in the part's coordinates
        (default: bounding-box diagonal / 50, see :mod:`graphops.io.cad`).

    Returns
    -------
    Mesh
        Cells reduced to linear corner nodes (second-order cells keep their
        corners), blocks of the same type merged, planar meshes (z zero to
        within :data:`graphops.mesh.PLANAR_RTOL` of the extent) with 2D points.

    Raises
    ------
    MeshError
        Missing, empty, unknown-format or corrupt file, NaN coordinates, a
        file that crashes gmsh, ``mesh_size`` given for a file that is not CAD.
    """
    p = check_readable(path)
    ext = _suffix(p)
    if mesh_size is not None and ext not in CAD_EXTENSIONS:
        raise MeshError(f"a mesh size applies to CAD files ({', '.join(CAD_EXTENSIONS)}), not to {ext or 'this'} files", p)
    if ext in CAD_EXTENSIONS:
        from .isolated import read_in_child

        mesh = read_in_child(str(p), "cad", timeout=GMSH_CHILD_TIMEOUT, mesh_size=check_mesh_size(mesh_size, str(p)), dim=dim)
    elif ext == ".geo":
        from .isolated import read_in_child

        mesh = read_in_child(str(p), "geo", timeout=GMSH_CHILD_TIMEOUT, dim=dim)
    elif ext == ".msh":
        mesh = _read_msh(p)
    elif ext in POINT_CLOUD_EXTENSIONS and ext != ".ply":
        mesh = read_point_cloud(p)
    elif ext in _meshio_extensions():
        mesh = _read_with_meshio(p)
    else:
        raise MeshError(
            f"unknown mesh format {ext or '(no extension)'!r}; graphops reads "
            + ", ".join(supported_extensions()),
            p,
        )
    return mesh.validate() if validate else mesh


#: gmsh's refusals of a .msh file that meshio may still read (partitioned files).
_GMSH_REFUSALS_FOR_MESHIO = ("partition",)


def _read_msh(path: Path) -> Mesh:
    """A .msh file through gmsh.

    An old ASCII MSH 2 file numbering its nodes from 0 is read from a copy
    numbered from 1 (:mod:`.msh2_zero_based`); one gmsh refuses for its
    partitions goes through meshio.
    """
    try:
        return read_gmsh_file(str(path))
    except MeshError as exc:
        if "same node tag" in exc.problem:
            return _read_renumbered(path, exc)
        if not any(word in exc.problem.lower() for word in _GMSH_REFUSALS_FOR_MESHIO):
            raise
        gmsh_problem = exc.problem
    try:
        return _read_with_meshio(path)
    except MeshError as exc:
        raise MeshError(f"{gmsh_problem}; meshio could not read it either ({exc.problem})", path) from None


def _read_renumbered(path: Path, original: MeshError) -> Mesh:
    import tempfile

    from .msh2_zero_based import renumbered_copy

    try:
        with tempfile.TemporaryDirectory(prefix="graphops-msh-") as tmp:
            copy = renumbered_copy(path, Path(tmp))
            if copy is None:
                raise MeshError(original.problem, path) from None
            try:
                mesh = read_gmsh_file(str(copy))
            except MeshError as exc:
                raise MeshError(exc.problem, path) from None
    except OSError as exc:  # no room for the renumbered copy
        raise MeshError(f"{original.problem}; could not write a renumbered copy ({exc.strerror or exc})", path) from None
    mesh.source = str(path)
    return mesh


def _check_ply_header(path: Path) -> None:
    """Refuse a PLY file whose header never ends (meshio's reader would wait for it forever)."""
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip() == b"end_header":
                return
    raise MeshError("cannot read this file, its PLY header is truncated (no 'end_header' line)", path)


def _read_with_meshio(path: Path) -> Mesh:
    import meshio

    if path.suffix.lower() == ".ply":
        _check_ply_header(path)
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            raw = meshio.read(str(path))
    except (Exception, SystemExit) as exc:  # meshio raises many kinds of errors (and exits) on corrupt input
        msg = (str(exc).strip() if not isinstance(exc, SystemExit) else chatter.getvalue().strip()).splitlines()
        detail = msg[0] if msg else type(exc).__name__
        raise MeshError(f"cannot read this file, it looks corrupt or truncated ({type(exc).__name__}: {detail})", path) from None
    return from_meshio(raw, source=str(path))


def from_meshio(raw, source: Optional[str] = None) -> Mesh:
    """Convert a ``meshio.Mesh`` into a :class:`Mesh`.

    Higher-order cells keep their corner nodes only (unused nodes are dropped),
    blocks of one type are merged, cell sets become physical groups, and
    cell types graphops does not know are reported if they leave no cells.
    """
    points = np.asarray(raw.points, dtype=np.float64)
    if points.ndim != 2 or len(points) == 0:
        raise MeshError("the file has no points", source)
    if points.shape[1] not in (2, 3):
        raise MeshError(f"points need 2 or 3 coordinates, the file gives {points.shape[1]}", source)
    blocks: Dict[str, List[np.ndarray]] = {}
    where: List[tuple] = []  # (linear type, offset in merged block, count) per meshio block
    unknown: List[str] = []
    reduced = False
    for block in raw.cells:
        ctype = block.type
        data = np.asarray(block.data)
        if ctype in HIGHER_ORDER:
            lin = HIGHER_ORDER[ctype]
            data = data[:, : CELL_CORNERS[lin]]
            ctype, reduced = lin, True
        if ctype not in CELL_CORNERS:
            unknown.append(ctype)
            where.append((None, 0, len(data)))
            continue
        offset = sum(len(a) for a in blocks.get(ctype, []))
        blocks.setdefault(ctype, []).append(data.astype(np.int64))
        where.append((ctype, offset, len(data)))
    cells = {t: np.concatenate(a) for t, a in blocks.items()}
    if unknown and not any(CELL_DIM[t] >= 2 for t in cells):
        raise MeshError(f"unsupported cell types {sorted(set(unknown))} and no triangle/quad/tetra/hexahedron/wedge/pyramid cells", source)

    cell_data: Dict[str, Dict[str, np.ndarray]] = {}
    for name, per_block in raw.cell_data.items():
        merged: Dict[str, List[np.ndarray]] = {}
        for (ctype, _, _), values in zip(where, per_block):
            if ctype is not None:
                merged.setdefault(ctype, []).append(np.asarray(values))
        cell_data[name] = {t: np.concatenate(v) for t, v in merged.items()}

    groups: Dict[str, PhysicalGroup] = {}
    for name, per_block in getattr(raw, "cell_sets", {}).items():
        gcells: Dict[str, List[np.ndarray]] = {}
        for (ctype, offset, count), ids in zip(where, per_block):
            if ctype is None or ids is None or len(ids) == 0:
                continue
            gcells.setdefault(ctype, []).append(cells[ctype][offset + np.asarray(ids, dtype=np.int64)])
        if gcells:
            merged_cells = {t: np.concatenate(v) for t, v in gcells.items()}
            dim = max(CELL_DIM[t] for t in merged_cells)
            groups[name] = PhysicalGroup(name=name, dim=dim, cells=merged_cells)

    point_data = {k: np.asarray(v) for k, v in raw.point_data.items()}
    top = max((CELL_DIM[t] for t, c in cells.items() if len(c)), default=0)
    points = planar_points(points, top)
    mesh = Mesh(points, cells, point_data, cell_data, groups, source)
    return mesh.remove_unused_points() if reduced else mesh
