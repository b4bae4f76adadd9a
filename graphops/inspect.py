"""A plain-text summary of a mesh: what ``graphops info`` prints."""
from __future__ import annotations

from typing import Any, Dict

import numpy as np

from .boundary import boundary_facets
from .mesh import Mesh


def mesh_summary(mesh: Mesh) -> Dict[str, Any]:
    """Points, cells by type, boundary nodes/facets, physical groups, bounding box and fields.

    Returns
    -------
    dict
        JSON-serialisable summary.
    """
    lo, hi = mesh.bounding_box()
    info: Dict[str, Any] = {
        "file": mesh.source,
        "points": mesh.num_points,
        "dimension": mesh.dim,
        "kind": mesh.kind,
        "cells": {t: int(len(c)) for t, c in mesh.iter_cells()},
        "bounding_box": {"min": lo.tolist(), "max": hi.tolist()},
        "physical_groups": {n: {"dim": g.dim, "tag": g.tag, "cells": int(sum(len(c) for c in g.cells.values()))} for n, g in mesh.groups.items()},
        "point_data": {n: list(np.shape(v)[1:]) for n, v in mesh.point_data.items()},
    }
    if mesh.volume_cells():
        facets = boundary_facets(mesh)
        nodes = np.unique(np.concatenate([f.ravel() for f in facets.values()]))
        info["boundary"] = {"nodes": int(len(nodes)), "facets": {t: int(len(f)) for t, f in facets.items()}}
    return info


def format_summary(info: Dict[str, Any]) -> str:
    """Human-readable text of :func:`mesh_summary`."""
    fmt = lambda v: "[" + ", ".join(f"{x:.6g}" for x in v) + "]"  # noqa: E731
    lines = [f"file:        {info['file']}", f"kind:        {info['kind']}", f"points:      {info['points']}"]
    if info["cells"]:
        lines.append("cells:       " + ", ".join(f"{t} {n}" for t, n in info["cells"].items()))
    if "boundary" in info:
        b = info["boundary"]
        lines.append(f"boundary:    {b['nodes']} nodes, " + ", ".join(f"{n} {t} facets" for t, n in b["facets"].items()))
    lines.append(f"bounding box: min {fmt(info['bounding_box']['min'])} max {fmt(info['bounding_box']['max'])}")
    if info["physical_groups"]:
        lines.append("physical groups:")
        for name, g in info["physical_groups"].items():
            lines.append(f"  {name!r}: dim {g['dim']}, tag {g['tag']}, {g['cells']} cells")
    if info["point_data"]:
        lines.append("point data:  " + ", ".join(f"{n} {tuple(s) if s else ''}".strip() for n, s in info["point_data"].items()))
    return "\n".join(lines)
