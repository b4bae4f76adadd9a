"""Mixed and non-simplex volume meshes split into a conforming simplex mesh for the FEM solvers.

Pure quadrilateral and pure hexahedral meshes go to scikit-fem as they are
(``ElementQuad1/2``, ``ElementHex1/2``); everything else (triangles with
quads, tetrahedra with hexahedra, wedges, pyramids) is split here:

* 2D: each quadrilateral becomes two triangles along its 0-2 diagonal (any
  diagonal is conforming in 2D, where cells share edges only).
* 3D: a node is added at the centre of every quadrilateral face and of every
  cell with a quadrilateral face; each face of such a cell, fanned around its
  centre (quadrilaterals into four triangles around the face node), becomes
  the base of tetrahedra with the cell's centre node. Neighbours see the same
  face node, so the split is conforming without any choice of diagonals.
  Tetrahedra stay as they are.

Added nodes come after the original ones; a prolongation matrix gives them
the mean of their parent corners (the bilinear/trilinear interpolant at a
face or cell centre), so nodal input fields extend to the split mesh and the
solution at the original nodes is the first ``N`` entries.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

import numpy as np
import scipy.sparse as sp

from ..boundary import row_keys
from ..cells import CELL_FACETS


@dataclass
class SimplexSplit:
    """A conforming simplex mesh made from a mixed one.

    Attributes
    ----------
    points : ndarray, shape (N + A, d)
        The original nodes, then the ``A`` added face and cell centres.
    cells : ndarray, shape (M', d + 1)
        Triangles (2D) or tetrahedra (3D).
    cell_type : str
        ``"triangle"`` or ``"tetra"``.
    prolongation : scipy.sparse.csr_matrix, shape (N + A, N)
        Nodal values on the original nodes -> values on all nodes.
    face_keys : ndarray, shape (U,)
        Sorted ``row_keys`` of the distinct quadrilateral faces (3D only); the
        centre node of face ``i`` is ``first_face_node + i``.
    first_face_node : int
        Index of the first face-centre node.
    """

    points: np.ndarray
    cells: np.ndarray
    cell_type: str
    prolongation: sp.csr_matrix
    face_keys: np.ndarray
    first_face_node: int

    def split_facets(self, facet_type: str, facets: np.ndarray, num_nodes: int) -> np.ndarray:
        """The simplex facets ``(F', d)`` a block of original boundary facets became.

        Lines (2D) and triangles (3D) are unchanged; a quadrilateral face
        becomes the four triangles around its centre node.
        """
        facets = np.asarray(facets, dtype=np.int64)
        if facet_type != "quad":
            return facets
        keys = row_keys(np.sort(facets, axis=1), num_nodes)
        pos = np.minimum(np.searchsorted(self.face_keys, keys), max(len(self.face_keys) - 1, 0))
        if len(keys) and (len(self.face_keys) == 0 or not np.all(self.face_keys[pos] == keys)):
            raise ValueError("quadrilaterals that are not faces of the mesh")
        centre = self.first_face_node + pos
        return np.concatenate([np.stack([facets[:, i], facets[:, (i + 1) % 4], centre], axis=1) for i in range(4)])


def split_to_simplices(points: np.ndarray, volume: Dict[str, np.ndarray]) -> SimplexSplit:
    """Split the volume cells of a mesh into a conforming triangle or tetrahedron mesh.

    Parameters
    ----------
    points : ndarray, shape (N, d)
    volume : dict of str to ndarray
        Volume cell blocks of one dimension (``Mesh.volume_cells()``).

    Returns
    -------
    SimplexSplit
    """
    n = len(points)
    dim = 2 if set(volume) <= {"triangle", "quad"} else 3
    if dim == 2:
        tris = [volume.get("triangle", np.zeros((0, 3), dtype=np.int64))]
        if "quad" in volume:
            q = volume["quad"]
            tris += [q[:, [0, 1, 2]], q[:, [0, 2, 3]]]
        return SimplexSplit(points, np.concatenate(tris).astype(np.int64), "triangle", sp.identity(n, format="csr"),
                            np.zeros(0, dtype=np.int64), n)

    blocks = [(t, np.asarray(c, dtype=np.int64)) for t, c in volume.items() if t != "tetra"]
    tets: List[np.ndarray] = [np.asarray(volume.get("tetra", np.zeros((0, 4))), dtype=np.int64)]
    parents: List[np.ndarray] = [c for _, c in blocks]  # corners of each added node, block by block
    centres, next_node = [], n
    for _, conn in blocks:
        centres.append(np.arange(next_node, next_node + len(conn)))
        next_node += len(conn)
    quads = [conn[:, list(local)] for ctype, conn in blocks for ftype, local in CELL_FACETS[ctype] if ftype == "quad"]
    all_quads = np.concatenate(quads) if quads else np.zeros((0, 4), dtype=np.int64)
    keys = row_keys(np.sort(all_quads, axis=1), n)
    face_keys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    face_node = next_node + inverse.ravel()  # centre node of every quad face occurrence, in the order of ``quads``
    parents.append(all_quads[first])
    used = 0
    for (ctype, conn), centre in zip(blocks, centres):
        for ftype, local in CELL_FACETS[ctype]:
            face = conn[:, list(local)]
            if ftype == "triangle":
                tets.append(np.column_stack([face, centre]))
                continue
            fnode = face_node[used:used + len(face)]
            used += len(face)
            for i in range(4):
                tets.append(np.column_stack([face[:, i], face[:, (i + 1) % 4], fnode, centre]))

    new_points = [points[c].mean(axis=1) for c in parents if len(c)]
    all_points = np.concatenate([points] + new_points)
    rows, cols, vals = [np.arange(n)], [np.arange(n)], [np.ones(n)]
    offset = n
    for corners in parents:
        k = corners.shape[1]
        rows.append(np.repeat(np.arange(offset, offset + len(corners)), k))
        cols.append(corners.ravel())
        vals.append(np.full(corners.size, 1.0 / k))
        offset += len(corners)
    prolongation = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(all_points), n))
    return SimplexSplit(all_points, np.concatenate(tets), "tetra", prolongation, face_keys, next_node)
