"""One careful gmsh session per process, and the conversion of a gmsh model to a :class:`Mesh`.

Both the readers (``.geo`` / ``.msh`` files) and the shape generators of
:mod:`graphops.geometry` go through here.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Dict, Iterator, List, Optional

import numpy as np

from .cells import CELL_DIM
from .errors import MeshError
from .mesh import Mesh, PhysicalGroup, planar_points

_LOCK = threading.RLock()

#: gmsh element family (from ``getElementProperties``) -> linear graphops cell type.
_GMSH_FAMILY = {
    "Point": "vertex",
    "Line": "line",
    "Triangle": "triangle",
    "Quadrilateral": "quad",
    "Tetrahedron": "tetra",
    "Hexahedron": "hexahedron",
    "Prism": "wedge",
    "Pyramid": "pyramid",
}


@contextlib.contextmanager
def gmsh_session() -> Iterator[object]:
    """Open gmsh (silenced, no signal handlers) for the duration of the block.

    Re-entrant: a nested session reuses the open one and leaves it open. The
    outermost session finalizes gmsh, so at most one gmsh session lives in the
    process at a time.

    Yields
    ------
    module
        The ``gmsh`` module, ready for ``gmsh.model`` calls.
    """
    import gmsh

    with _LOCK:
        owner = not gmsh.isInitialized()
        if owner:
            gmsh.initialize(readConfigFiles=False, interruptible=False)
            gmsh.option.setNumber("General.Terminal", 0)
            gmsh.option.setNumber("General.Verbosity", 1)
        try:
            yield gmsh
        finally:
            if owner:
                gmsh.finalize()


def _element_type_name(gmsh, etype: int) -> tuple:
    name, dim, order, num_nodes, _, num_primary = gmsh.model.mesh.getElementProperties(etype)
    family = name.split(" ")[0]
    return _GMSH_FAMILY.get(family), int(dim), int(num_nodes), int(num_primary)


def mesh_from_gmsh_model(source: Optional[str] = None) -> Mesh:
    """Convert the current gmsh model's mesh into a :class:`Mesh`.

    Cells are the elements of every top-dimension entity (ghost cells of a
    partitioned mesh left out), plus the lower-dimensional elements that
    belong to a physical group. Higher-order
    elements are reduced to their corner nodes and unused nodes dropped. The
    geometric dimension is 2 when every node has ``z == 0`` and the mesh is
    at most 2D.

    Parameters
    ----------
    source : str, optional
        File name used in error messages.

    Returns
    -------
    Mesh
    """
    import gmsh

    node_tags, coords, _ = gmsh.model.mesh.getNodes()
    if len(node_tags) == 0:
        raise MeshError("gmsh produced no nodes (empty geometry or empty mesh)", source)
    node_tags = np.asarray(node_tags, dtype=np.int64)
    order = np.argsort(node_tags, kind="stable")  # keep the file's node numbering
    node_tags = node_tags[order]
    if len(node_tags) > 1 and np.any(node_tags[1:] == node_tags[:-1]):
        # gmsh renumbers a node tagged 0 (old MSH2 files count from 0) onto another node's tag
        raise MeshError("gmsh gave two nodes the same node tag (does the file number its nodes from 0?)", source)
    points = np.asarray(coords, dtype=np.float64).reshape(-1, 3)[order]
    index = np.full(int(node_tags.max()) + 1, -1, dtype=np.int64)
    index[node_tags] = np.arange(len(node_tags))

    def elements_of(dim: int, tag: int) -> Dict[str, List[np.ndarray]]:
        out: Dict[str, List[np.ndarray]] = {}
        types, _, nodes = gmsh.model.mesh.getElements(dim, tag)
        for etype, enodes in zip(types, nodes):
            ctype, _, num_nodes, num_primary = _element_type_name(gmsh, etype)
            if ctype is None:
                raise MeshError(f"unsupported gmsh element type {etype}", source)
            conn = np.asarray(enodes, dtype=np.int64).reshape(-1, num_nodes)[:, :num_primary]
            out.setdefault(ctype, []).append(index[conn])
        return out

    entities = gmsh.model.getEntities()
    top = max((d for d, _ in entities if elements_of_count(gmsh, d, _) > 0), default=-1)
    if top < 1:
        raise MeshError("the gmsh model has no mesh elements of dimension 1 or more", source)

    blocks: Dict[str, List[np.ndarray]] = {}
    for d, t in entities:
        if d == top and not gmsh.model.getType(d, t).startswith("Ghost"):  # ghost cells of a partitioned mesh repeat cells
            for ctype, arrs in elements_of(d, t).items():
                blocks.setdefault(ctype, []).extend(arrs)

    groups: Dict[str, PhysicalGroup] = {}
    for d, ptag in gmsh.model.getPhysicalGroups():
        name = gmsh.model.getPhysicalName(d, ptag) or str(ptag)
        gcells: Dict[str, List[np.ndarray]] = {}
        for etag in gmsh.model.getEntitiesForPhysicalGroup(d, ptag):
            for ctype, arrs in elements_of(d, int(etag)).items():
                gcells.setdefault(ctype, []).extend(arrs)
        merged = {c: np.concatenate(a) for c, a in gcells.items()}
        groups[name] = PhysicalGroup(name=name, dim=int(d), tag=int(ptag), cells=merged)
        if d < top:
            for ctype, conn in merged.items():
                blocks.setdefault(ctype, []).append(conn)

    cells = {}
    for ctype, arrs in blocks.items():
        conn = np.concatenate(arrs)
        if CELL_DIM[ctype] < top:
            conn = np.unique(np.sort(conn, axis=1), axis=0) if ctype == "vertex" else _unique_rows(conn)
        cells[ctype] = conn
    points = planar_points(points, top)
    point_data = _node_views(gmsh, index, len(points), source)
    return Mesh(points, cells, point_data, groups=groups, source=source).remove_unused_points()


def _node_views(gmsh, index: np.ndarray, num_nodes: int, source: Optional[str]) -> Dict[str, np.ndarray]:
    """Node-data post-processing views (``$NodeData`` of a .msh file) as point fields."""
    fields: Dict[str, np.ndarray] = {}
    for i, vtag in enumerate(gmsh.view.getTags()):
        if _is_list_view(gmsh, vtag):
            continue  # text annotations and parsed (.pos-style) views carry no node data
        try:
            dtype, tags, data, _, ncomp = gmsh.view.getModelData(vtag, 0)
        except Exception:
            continue  # list-based or element views carry no node data
        if dtype != "NodeData" or len(tags) == 0:
            continue
        name = gmsh.option.getString(f"View[{gmsh.view.getIndex(vtag)}].Name") or f"view{i}"
        values = np.full((num_nodes, int(ncomp)), np.nan)
        values[index[np.asarray(tags, dtype=np.int64)]] = np.asarray(data, dtype=np.float64).reshape(len(tags), -1)
        fields[name] = values[:, 0] if ncomp == 1 else values
    return fields


def _is_list_view(gmsh, vtag: int) -> bool:
    """True for a list-based view (``View "..." {...}`` in a .geo, text annotations).

    ``gmsh.view.getModelData`` on such a view throws a C++ exception gmsh does
    not catch (the process aborts), while ``getListData`` on a model-based view
    raises a Python exception: so ask for list data first.
    """
    try:
        gmsh.view.getListData(vtag)
    except Exception:
        return False
    return True


def elements_of_count(gmsh, dim: int, tag: int) -> int:
    """Number of mesh elements on one gmsh entity."""
    _, etags, _ = gmsh.model.mesh.getElements(dim, tag)
    return int(sum(len(e) for e in etags))


def _unique_rows(conn: np.ndarray) -> np.ndarray:
    """Drop cells repeated with the same node set (shared by two physical groups)."""
    _, first = np.unique(np.sort(conn, axis=1), axis=0, return_index=True)
    return conn[np.sort(first)]


def read_gmsh_file(path: str, dim: Optional[int] = None) -> Mesh:
    """Read a gmsh ``.geo`` (meshed now) or ``.msh`` (v2/v4, ascii/binary) file.

    Parameters
    ----------
    path : str
        The file.
    dim : int, optional
        Dimension to mesh a ``.geo`` file in; defaults to its highest entity dimension.
    """
    if str(path).lower().endswith(".msh"):
        _check_msh_header(path)
    with gmsh_session() as gmsh:
        gmsh.clear()
        errors = open_collecting_errors(gmsh, str(path))
        if errors:
            gmsh.clear()
            raise MeshError(f"gmsh cannot read this file ({printable(errors[0])})", path)
        try:
            if str(path).lower().endswith(".geo"):
                top = max((d for d, _ in gmsh.model.getEntities()), default=-1)
                if top < 1:
                    raise MeshError("the .geo file defines no curves, surfaces or volumes", path)
                gmsh.model.mesh.generate(dim or top)
            return mesh_from_gmsh_model(source=str(path))
        except MeshError:
            raise
        except Exception as exc:
            raise MeshError(f"gmsh failed on this file ({first_line(exc)})", path) from None
        finally:
            gmsh.clear()


#: First bytes of the .msh files gmsh reads as meshes (v2/v4 ``$MeshFormat``, v1 ``$NOD``/``$NOE``/``$ELM``);
#: gmsh runs any other file as a .geo script, which may contain ``System "..."`` shell commands.
MSH_HEADERS = (b"$MeshFormat", b"$NOD", b"$NOE", b"$ELM")


def _check_msh_header(path: str) -> None:
    """Refuse a .msh file that gmsh would not read as a mesh but run as a .geo script."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise MeshError(f"cannot open the file ({exc.strerror})", path) from None
    if not head.startswith(MSH_HEADERS):
        raise MeshError("not a gmsh mesh: a .msh file must start with $MeshFormat", path)


def open_collecting_errors(gmsh, path: str) -> list:
    """``gmsh.open(path)``, returning gmsh's error messages instead of raising at the first one.

    With the default ``General.AbortOnError`` the .geo parser throws mid-file and
    leaves unread input in its lexer buffer, which the next file parsed in this
    process then starts with (a valid file fails after a broken one). Letting
    the parser finish flushes that buffer.
    """
    previous = gmsh.option.getNumber("General.AbortOnError")
    gmsh.option.setNumber("General.AbortOnError", 0)
    # Partitions do not matter here: read an old-style partitioned MSH2 file as it is instead of
    # rebuilding partition entities (which fails with "All elements are not partitioned").
    convert = gmsh.option.getNumber("Mesh.PartitionConvertMsh2")
    gmsh.option.setNumber("Mesh.PartitionConvertMsh2", 0)
    gmsh.logger.start()
    try:
        try:
            gmsh.open(path)
        except Exception as exc:  # gmsh raises a bare Exception with its own log line
            return [first_line(exc)]
        try:
            lines = gmsh.logger.get()
        except UnicodeDecodeError:  # gmsh echoes undecodable bytes of a binary file in its message
            return ["its content is not text gmsh understands"]
        return [line[len("Error: "):].strip() for line in lines if line.startswith("Error")]
    finally:
        gmsh.logger.stop()
        gmsh.option.setNumber("General.AbortOnError", previous)
        gmsh.option.setNumber("Mesh.PartitionConvertMsh2", convert)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (gmsh's log line), or its type name."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def printable(text: str, limit: int = 200) -> str:
    """``text`` with unprintable characters (binary input gmsh echoes) replaced by ``?``, cut to ``limit``."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:limit]
