"""Predict a field on a user's own mesh with a trained checkpoint (``graphops predict``).

The checkpoint alone rebuilds the model (its stored config), the normaliser and
the problem it was trained on; the mesh file gives the geometry, and the source
term and boundary values come as formulas in ``x, y, z`` or as point data of
the mesh. The result is written as a VTU (prediction as point data) and a PNG,
with the FEM reference and the error field when asked.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np
import torch

from .boundary import boundary_nodes
from .errors import CheckpointError, ConfigError, DataError
from .expressions import evaluate_expression
from .mesh import Mesh

PathLike = Union[str, "os.PathLike[str]"]

#: Problems ``predict`` knows how to set up, and their boundary condition kind.
BOUNDARY_KIND = {"poisson-dirichlet": "dirichlet", "poisson-neumann": "neumann"}


@dataclass
class Prediction:
    """What :func:`predict` computed and wrote.

    Attributes
    ----------
    mesh : Mesh
        The input mesh with point data ``prediction``, ``f``, ``g`` (and
        ``fem``, ``error`` when compared).
    prediction : ndarray, shape (N,)
    seconds : float
        Model inference time (graph building excluded).
    fem_seconds : float or None
        FEM solve time of the reference, when computed.
    relative_l2 : float or None
        ``||pred - fem|| / ||fem||`` over the nodes, when compared.
    files : dict of str to Path
        ``vtu`` and ``png`` outputs.
    """

    mesh: Mesh
    prediction: np.ndarray
    seconds: float
    fem_seconds: Optional[float] = None
    relative_l2: Optional[float] = None
    files: Dict[str, Path] = field(default_factory=dict)


def _field(spec: Union[None, str, float, np.ndarray], mesh: Mesh, name: str, default: float) -> np.ndarray:
    """A node field from a formula, the name of a point field of the mesh, a number or an array."""
    if spec is None:
        return np.full(mesh.num_points, float(default))
    if isinstance(spec, str):
        if spec in mesh.point_data:
            values = np.asarray(mesh.point_data[spec], dtype=np.float64)
            if values.ndim != 1:
                raise DataError(f"point field {spec!r} for the {name} must be scalar, it has shape {values.shape}", mesh.source)
        else:
            values = evaluate_expression(spec, mesh.points, name)
    else:
        values = np.broadcast_to(np.asarray(spec, dtype=np.float64), (mesh.num_points,)).copy()
    if not np.isfinite(values).all():
        raise DataError(f"the {name} has NaN or infinite values (first at node {int(np.flatnonzero(~np.isfinite(values))[0])})", mesh.source)
    return values


def neumann_shift(mesh: Mesh, f: np.ndarray, g: np.ndarray) -> float:
    """The constant to subtract from ``f`` so that ``int f dx + oint g ds = 0``.

    Integrals of the P1 interpolants, exact: each simplex (facet) contributes its
    measure times the mean of its node values.

    Parameters
    ----------
    mesh : Mesh
        Triangle or tetrahedron mesh.
    f, g : ndarray, shape (N,)
        Source and boundary flux at the nodes.
    """
    from math import factorial

    from .boundary import boundary_facets

    def measures(points: np.ndarray, simplices: np.ndarray) -> np.ndarray:
        edges = points[simplices[:, 1:]] - points[simplices[:, :1]]  # (S, k, d)
        gram = np.einsum("skd,sld->skl", edges, edges)
        return np.sqrt(np.clip(np.linalg.det(gram), 0, None)) / factorial(edges.shape[1])

    volume = {t: c for t, c in mesh.volume_cells().items() if t in ("triangle", "tetra")}
    if len(volume) != len(mesh.volume_cells()):
        raise DataError("Neumann problems need a triangle or tetrahedron mesh", mesh.source)
    cells = next(iter(volume.values()))
    vol = measures(mesh.points, cells)
    total = float(vol.sum())
    integral_f = float((vol * f[cells].mean(axis=1)).sum())
    integral_g = sum(float((measures(mesh.points, fc) * g[fc].mean(axis=1)).sum()) for fc in boundary_facets(mesh).values())
    return (integral_f + integral_g) / total


def problem_of(meta: Mapping[str, Any], path: PathLike) -> Dict[str, Any]:
    """The dataset description stored with a checkpoint (problem name, graph radius)."""
    info = (meta.get("extra") or {}).get("dataset") or {}
    if not info.get("problem"):
        raise CheckpointError("the checkpoint does not record which problem it was trained on", path)
    return dict(info)


def predict(
    checkpoint: PathLike,
    mesh: Union[Mesh, PathLike],
    source: Union[None, str, float, np.ndarray] = None,
    boundary: Union[None, str, float, np.ndarray] = None,
    out: Optional[PathLike] = None,
    compare_fem: bool = False,
    png: bool = True,
    device: str = "cpu",
) -> Prediction:
    """Predict the solution field on ``mesh`` with the model in ``checkpoint``.

    Parameters
    ----------
    checkpoint : path-like
        A checkpoint written by ``graphops train``.
    mesh : Mesh or path-like
        The geometry (any format :func:`graphops.io.read_mesh` reads).
    source : str, number or ndarray (N,), optional
        Source term f: a formula in x, y, z, the name of a point field of the
        mesh, a constant or nodal values. Default 0.
    boundary : str, number or ndarray (N,), optional
        Boundary values g (Dirichlet value or Neumann flux, by the problem the
        model learned), same forms; used at boundary nodes only. Required.
    out : path-like, optional
        VTU file to write (a PNG with the same stem is written beside it).
    compare_fem : bool
        Also solve the problem with the reference FEM solver and report the error.
    png : bool
        Write the PNG plot.
    device : str

    Returns
    -------
    Prediction

    Raises
    ------
    CheckpointError, MeshError, DataError, ConfigError
        Corrupt or foreign checkpoint, unreadable mesh, mesh of the wrong
        dimension, missing boundary values, bad formulas.
    """
    from .graph import mesh_to_graph
    from .io import read_mesh, write_mesh
    from .train.checkpoint import load_model
    from .train.evaluate import refuse_dynamics_model

    ckpt = Path(checkpoint).expanduser()
    model, normalizer, meta = load_model(ckpt, map_location=device)
    refuse_dynamics_model(meta, ckpt, "predict")
    info = problem_of(meta, ckpt)
    kind = BOUNDARY_KIND.get(info["problem"])
    if kind is None:
        raise CheckpointError(
            f"predict handles models trained on {', '.join(BOUNDARY_KIND)}; this one learned {info['problem']!r}", ckpt
        )
    if not isinstance(mesh, Mesh):
        mesh = read_mesh(mesh)
    mesh.validate(require_cells=True)
    model_dim = int(meta["model_config"].get("dim", mesh.geometric_dim))
    if mesh.geometric_dim != model_dim:
        raise DataError(
            f"the mesh is {mesh.geometric_dim}D but the checkpoint {ckpt.name} was trained on {model_dim}D meshes", mesh.source
        )
    if boundary is None:
        raise ConfigError(f"boundary values are required: the model learned {kind} boundary conditions (give a formula such as 'x*y' or a point field name)")
    f = _field(source, mesh, "source", 0.0)
    on_boundary = boundary_nodes(mesh)
    g = np.where(on_boundary, _field(boundary, mesh, "boundary values", 0.0), 0.0)
    if kind == "neumann":  # the model learned compatible data: int f + oint g = 0
        f = f - neumann_shift(mesh, f, g)

    data = mesh_to_graph(mesh, radius=info.get("radius"))
    data.f = torch.from_numpy(f.astype(np.float32))
    data.g = torch.from_numpy(g.astype(np.float32))
    data.a = torch.ones(mesh.num_points)
    data.bc_dirichlet = torch.from_numpy(on_boundary if kind == "dirichlet" else np.zeros_like(on_boundary))
    data.batch = torch.zeros(mesh.num_points, dtype=torch.long)
    if normalizer is not None:
        data = normalizer(data)
    data = data.to(device)
    start = time.perf_counter()
    with torch.no_grad():
        pred = model(data)
    seconds = time.perf_counter() - start
    if normalizer is not None:
        pred = normalizer.inverse_y(pred)
    prediction = pred.reshape(mesh.num_points, -1)[:, 0].double().cpu().numpy()

    fields: Dict[str, np.ndarray] = {"prediction": prediction, "f": f, "g": g}
    result = Prediction(mesh=mesh, prediction=prediction, seconds=seconds)
    if compare_fem:
        from .solvers import solve_poisson

        start = time.perf_counter()
        if kind == "dirichlet":
            fem = solve_poisson(mesh, f=f, dirichlet="all", g=g)
        else:
            fem = solve_poisson(mesh, f=f, dirichlet=None, neumann="all", flux=g)
        result.fem_seconds = time.perf_counter() - start
        fields["fem"] = fem
        fields["error"] = prediction - fem
        result.relative_l2 = float(np.linalg.norm(prediction - fem) / max(np.linalg.norm(fem), 1e-300))
    result.mesh = mesh.with_point_data(**fields)
    if out is not None:
        out = Path(out)
        result.files["vtu"] = write_mesh(out, result.mesh)
        if png:
            from .viz.fields import plot_fields

            panels = {"prediction": prediction}
            if compare_fem:
                panels.update({"FEM reference": fields["fem"], "error (prediction - FEM)": fields["error"]})
            title = f"{meta['model_name']} on {Path(mesh.source).name if mesh.source else 'mesh'}"
            if result.relative_l2 is not None:
                title += f" (relative L2 {result.relative_l2:.3f})"
            result.files["png"] = plot_fields(mesh, panels, out.with_suffix(".png"), title, shared_scale=("prediction", "FEM reference"))
    return result
