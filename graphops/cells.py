"""Topology tables for the linear cell types graphops works with.

Local node numbering follows VTK/meshio (and so gmsh after meshio's reordering).
"""
from __future__ import annotations

from typing import Dict, List, Tuple

#: Topological dimension of each linear cell type.
CELL_DIM: Dict[str, int] = {
    "vertex": 0,
    "line": 1,
    "triangle": 2,
    "quad": 2,
    "polygon": 2,
    "tetra": 3,
    "hexahedron": 3,
    "wedge": 3,
    "pyramid": 3,
}

#: Number of corner nodes of each linear cell type.
CELL_CORNERS: Dict[str, int] = {
    "vertex": 1,
    "line": 2,
    "triangle": 3,
    "quad": 4,
    "tetra": 4,
    "hexahedron": 8,
    "wedge": 6,
    "pyramid": 5,
}

#: Higher-order cell types and the linear type whose corners they start with.
HIGHER_ORDER: Dict[str, str] = {
    "line3": "line",
    "line4": "line",
    "triangle6": "triangle",
    "triangle7": "triangle",
    "triangle10": "triangle",
    "quad8": "quad",
    "quad9": "quad",
    "tetra10": "tetra",
    "tetra20": "tetra",
    "hexahedron20": "hexahedron",
    "hexahedron24": "hexahedron",
    "hexahedron27": "hexahedron",
    "wedge12": "wedge",
    "wedge15": "wedge",
    "wedge18": "wedge",
    "pyramid13": "pyramid",
    "pyramid14": "pyramid",
}

#: Edges of each cell type as pairs of local node indices.
CELL_EDGES: Dict[str, List[Tuple[int, int]]] = {
    "line": [(0, 1)],
    "triangle": [(0, 1), (1, 2), (2, 0)],
    "quad": [(0, 1), (1, 2), (2, 3), (3, 0)],
    "tetra": [(0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3)],
    "hexahedron": [
        (0, 1), (1, 2), (2, 3), (3, 0),
        (4, 5), (5, 6), (6, 7), (7, 4),
        (0, 4), (1, 5), (2, 6), (3, 7),
    ],
    "wedge": [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (0, 3), (1, 4), (2, 5)],
    "pyramid": [(0, 1), (1, 2), (2, 3), (3, 0), (0, 4), (1, 4), (2, 4), (3, 4)],
}

#: Facets (boundary pieces of dimension ``dim - 1``) of each volume cell type,
#: as ``(facet_type, local node indices)``, ordered so that the right-hand
#: rule gives the outward normal for a positively oriented cell. graphops does
#: not rely on that orientation: it orients normals away from the owning cell.
CELL_FACETS: Dict[str, List[Tuple[str, Tuple[int, ...]]]] = {
    "triangle": [("line", (0, 1)), ("line", (1, 2)), ("line", (2, 0))],
    "quad": [("line", (0, 1)), ("line", (1, 2)), ("line", (2, 3)), ("line", (3, 0))],
    "tetra": [
        ("triangle", (0, 2, 1)),
        ("triangle", (0, 1, 3)),
        ("triangle", (1, 2, 3)),
        ("triangle", (0, 3, 2)),
    ],
    "hexahedron": [
        ("quad", (0, 3, 2, 1)),
        ("quad", (4, 5, 6, 7)),
        ("quad", (0, 1, 5, 4)),
        ("quad", (1, 2, 6, 5)),
        ("quad", (2, 3, 7, 6)),
        ("quad", (3, 0, 4, 7)),
    ],
    "wedge": [
        ("triangle", (0, 2, 1)),
        ("triangle", (3, 4, 5)),
        ("quad", (0, 1, 4, 3)),
        ("quad", (1, 2, 5, 4)),
        ("quad", (2, 0, 3, 5)),
    ],
    "pyramid": [
        ("quad", (0, 3, 2, 1)),
        ("triangle", (0, 1, 4)),
        ("triangle", (1, 2, 4)),
        ("triangle", (2, 3, 4)),
        ("triangle", (3, 0, 4)),
    ],
}

#: Cell types that can form the volume of a mesh (2D or 3D).
VOLUME_TYPES = tuple(t for t, d in CELL_DIM.items() if d >= 2 and t != "polygon")
