"""CAD parts (STEP, IGES, BREP) meshed through gmsh's OpenCASCADE kernel.

A file holding solids gives a tetrahedral mesh, one holding only faces a
triangle mesh (planar at z = 0: a 2D mesh; otherwise a surface mesh in 3D).
The element size is ``mesh_size`` in the coordinates gmsh gives the part
(OpenCASCADE converts STEP and IGES lengths to millimetres; BREP files carry
no unit), or by default :data:`DEFAULT_SIZE_FRACTION` of the diagonal of the
part's bounding box. Entity names the file carries (STEP product and face
labels) become physical groups, one per name and dimension, for the part's
top dimension and its boundary.

Call this through :func:`graphops.io.read_mesh`, which runs it in a child
process (:mod:`graphops.io.isolated`): OpenCASCADE can abort on broken files.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional

import numpy as np

from ..errors import MeshError
from ..gmsh_model import gmsh_session, mesh_from_gmsh_model, open_collecting_errors, printable
from ..mesh import Mesh

#: File extensions read as CAD geometry.
CAD_EXTENSIONS = (".step", ".stp", ".iges", ".igs", ".brep")

#: Default element size as a fraction of the bounding-box diagonal (50 elements across the part).
DEFAULT_SIZE_FRACTION = 1.0 / 50.0


def default_mesh_size(lo: np.ndarray, hi: np.ndarray) -> float:
    """Element size used when none is given: the bounding-box diagonal times :data:`DEFAULT_SIZE_FRACTION`."""
    return float(np.linalg.norm(np.asarray(hi) - np.asarray(lo))) * DEFAULT_SIZE_FRACTION


def check_mesh_size(mesh_size: Optional[float], path: Optional[str] = None) -> Optional[float]:
    """``mesh_size`` as a float, or :class:`MeshError` unless it is None or a positive finite number."""
    if mesh_size is None:
        return None
    try:
        size = float(mesh_size)
    except (TypeError, ValueError):
        raise MeshError(f"mesh size must be a number, got {mesh_size!r}", path) from None
    if not (math.isfinite(size) and size > 0):
        raise MeshError(f"mesh size must be a positive number, got {mesh_size!r}", path)
    return size


def _name_groups(gmsh, top: int) -> None:
    """Physical groups from the entity names of the top dimension and its boundary."""
    for d in (top, top - 1):
        by_name: Dict[str, List[int]] = {}
        for _, tag in gmsh.model.getEntities(d):
            name = gmsh.model.getEntityName(d, tag).strip()
            if name:
                by_name.setdefault(name, []).append(tag)
        for name, tags in by_name.items():
            gmsh.model.addPhysicalGroup(d, tags, name=name)


def mesh_cad_file(path: str, mesh_size: Optional[float] = None, dim: Optional[int] = None) -> Mesh:
    """Import a CAD file with OpenCASCADE and mesh it (in this process: see the module docstring).

    Parameters
    ----------
    path : str
        ``.step``/``.stp``/``.iges``/``.igs``/``.brep`` file.
    mesh_size : float, optional
        Largest element size, in the part's coordinates; default: bounding-box diagonal / 50.
    dim : int, optional
        Mesh only up to this dimension (2 = the faces of a solid); default: the part's own.

    Returns
    -------
    Mesh
        Triangles or tetrahedra with the named physical groups.
    """
    size = check_mesh_size(mesh_size, path)
    with gmsh_session() as gmsh:
        gmsh.clear()
        gmsh.option.setNumber("Geometry.OCCImportLabels", 1)
        errors = open_collecting_errors(gmsh, str(path))
        try:
            if errors:
                raise MeshError(f"gmsh cannot read this CAD file ({printable(errors[0])})", path)
            top = max((d for d, _ in gmsh.model.getEntities()), default=-1)
            if top < 1:
                raise MeshError("the CAD file holds no curves, faces or solids", path)
            if top == 1:
                raise MeshError("the CAD file holds only curves (wires); graphops meshes its faces or solids", path)
            top = min(top, dim) if dim else top
            lo = np.array(gmsh.model.getBoundingBox(-1, -1)[:3])
            hi = np.array(gmsh.model.getBoundingBox(-1, -1)[3:])
            size = size or default_mesh_size(lo, hi)
            if not size > 0:
                raise MeshError("the CAD part has a zero-size bounding box", path)
            gmsh.option.setNumber("Mesh.MeshSizeMax", size)
            gmsh.option.setNumber("Mesh.MeshSizeMin", 0.0)
            _name_groups(gmsh, top)
            gmsh.model.mesh.generate(top)
            return mesh_from_gmsh_model(source=str(path))
        except MeshError:
            raise
        except Exception as exc:
            text = str(exc).strip().splitlines()
            raise MeshError(f"gmsh failed to mesh this CAD file ({printable(text[0]) if text else type(exc).__name__})", path) from None
        finally:
            gmsh.clear()
