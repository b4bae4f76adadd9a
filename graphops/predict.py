"""Predict a field on a user's own mesh with a trained checkpoint (``graphops predict``).

The checkpoint alone rebuilds the model (its stored config), the normaliser and
the problem it was trained on; the mesh file gives the geometry. For the
Poisson problems the source term and boundary values come as formulas in
``x, y, z`` or as point data of the mesh. For ``elasticity-holes`` the loading
is the training one, fixed: the bottom side of the mesh's bounding box is
clamped and the top side pulled by the training traction (see
:func:`elasticity_sides`). The result is written as a VTU (prediction as point
data) and a PNG, with the FEM reference and the error field when asked.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np
import torch

from .boundary import boundary_nodes
from .errors import CheckpointError, ConfigError, DataError, GraphopsError
from .expressions import evaluate_expression
from .mesh import Mesh, PhysicalGroup

PathLike = Union[str, "os.PathLike[str]"]

#: Problems ``predict`` knows how to set up, and their boundary condition kind.
BOUNDARY_KIND = {"poisson-dirichlet": "dirichlet", "poisson-neumann": "neumann"}

#: Problems whose loading is fixed by the problem (no --source/--boundary), and
#: the box their training geometries fill (min corner, max corner).
FIXED_LOADING = {"elasticity-holes": ((0.0, 0.0), (1.0, 1.0))}


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
    notes : list of str
        What the user should know about the set-up (the loading applied to an
        elasticity mesh, a geometry outside the training box).
    """

    mesh: Mesh
    prediction: np.ndarray
    seconds: float
    fem_seconds: Optional[float] = None
    relative_l2: Optional[float] = None
    files: Dict[str, Path] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)


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


def elasticity_sides(mesh: Mesh, rel_tol: float = 1e-6) -> Mesh:
    """The mesh with line groups ``bottom`` and ``top``: its boundary edges on the bounding box's lowest and highest y.

    These are the sides the ``elasticity-holes`` problem clamps and pulls (in
    training, the bottom and top sides of the unit cell). Groups of these names
    already in the mesh are replaced.

    Parameters
    ----------
    mesh : Mesh
        2D mesh with surface cells.
    rel_tol : float
        A node is on a side when its y is within ``rel_tol`` times the bounding
        box diagonal of the side's y.

    Returns
    -------
    Mesh
        A shallow copy with the two groups added.

    Raises
    ------
    MeshError
        No boundary edge lies on the bottom or on the top of the bounding box.
    """
    from .boundary import boundary_facets
    from .errors import MeshError

    lo, hi = mesh.bounding_box()
    tol = rel_tol * float(np.linalg.norm(hi - lo))
    lines = boundary_facets(mesh).get("line", np.zeros((0, 2), dtype=np.int64))
    y = mesh.points[:, 1]
    groups = dict(mesh.groups)
    for name, level in (("bottom", lo[1]), ("top", hi[1])):
        on_side = np.abs(y[lines] - level) <= tol
        picked = lines[on_side.all(axis=1)]
        if not len(picked):
            raise MeshError(
                f"no boundary edge lies on the {name} of the bounding box (y = {level:g}): the elasticity model "
                "clamps the bottom side and pulls the top side, which must be straight horizontal edges",
                mesh.source,
            )
        groups[name] = PhysicalGroup(name, 1, -1, {"line": picked})
    return Mesh(mesh.points, dict(mesh.cells), dict(mesh.point_data), dict(mesh.cell_data), groups, mesh.source)


def training_problem(meta: Mapping[str, Any], name: str):
    """The :class:`graphops.data.problems.Problem` a checkpoint learned, with the dataset's options when known.

    The options (material, traction...) are read from the manifest of the
    training dataset (``run_config.data.root``) when it is still there;
    otherwise the problem's defaults are used.

    Returns
    -------
    problem : Problem
    from_manifest : bool
        Whether the options came from the dataset manifest.
    """
    from .data.generate import read_manifest
    from .data.problems import get_problem

    root = ((meta.get("run_config") or {}).get("data") or {}).get("root")
    if root:
        try:
            manifest = read_manifest(root)
        except GraphopsError:
            manifest = {}
        if manifest.get("problem") == name and isinstance(manifest.get("config"), dict):
            return get_problem(name, tiny=bool(manifest.get("tiny")), **manifest["config"]), True
    return get_problem(name), False


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
        mesh, a constant or nodal values. Default 0. Poisson models only.
    boundary : str, number or ndarray (N,), optional
        Boundary values g (Dirichlet value or Neumann flux, by the problem the
        model learned), same forms; used at boundary nodes only. Required for
        Poisson models, refused for ``elasticity-holes`` ones (their loading is
        the training one: bottom of the bounding box clamped, top pulled).
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
        dimension, missing boundary values, bad formulas, source or boundary
        values given to an elasticity model.
    """
    from .data.dataset import sample_graph
    from .train.checkpoint import load_model
    from .train.evaluate import refuse_dynamics_model

    ckpt = Path(checkpoint).expanduser()
    model, normalizer, meta = load_model(ckpt, map_location=device)
    refuse_dynamics_model(meta, ckpt, "predict")
    info = problem_of(meta, ckpt)
    if info["problem"] == "imported":  # fields named by the user's files (graphops.data.imported_predict)
        from .data.imported_predict import predict_imported

        if source is not None or boundary is not None:
            raise ConfigError("--source/--boundary do not apply to a model trained on imported files: the mesh "
                              "must carry the input fields it was trained with, under the same names")
        return predict_imported(ckpt, model, normalizer, meta, info, mesh, out, png, device)
    if info["problem"] in FIXED_LOADING:
        return _predict_elasticity(
            ckpt, model, normalizer, meta, info, mesh, source, boundary, out, compare_fem, png, device
        )
    kind = BOUNDARY_KIND.get(info["problem"])
    if kind is None:
        raise CheckpointError(
            f"predict handles models trained on {', '.join(list(BOUNDARY_KIND) + list(FIXED_LOADING))}; "
            f"this one learned {info['problem']!r}", ckpt
        )
    mesh = _read_model_mesh(mesh, meta, ckpt)
    if boundary is None:
        raise ConfigError(f"boundary values are required: the model learned {kind} boundary conditions (give a formula such as 'x*y' or a point field name)")
    f = _field(source, mesh, "source", 0.0)
    on_boundary = boundary_nodes(mesh)
    g = np.where(on_boundary, _field(boundary, mesh, "boundary values", 0.0), 0.0)
    if kind == "neumann":  # the model learned compatible data: int f + oint g = 0
        f = f - neumann_shift(mesh, f, g)

    bc_dirichlet = on_boundary if kind == "dirichlet" else np.zeros_like(on_boundary)
    data = sample_graph(mesh, {"f": f, "g": g, "a": np.ones(mesh.num_points), "bc_dirichlet": bc_dirichlet},
                        radius=info.get("radius"))
    prediction, seconds = _run_model(model, normalizer, data, device, mesh.num_points)

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
    title = f"{meta['model_name']} on {Path(mesh.source).name if mesh.source else 'mesh'}"
    return _write_outputs(result, fields, title, out, png)


def _read_model_mesh(mesh: Union[Mesh, PathLike], meta: Mapping[str, Any], ckpt: Path) -> Mesh:
    """Read and check a mesh against the checkpoint's dimension."""
    from .io import read_mesh

    if not isinstance(mesh, Mesh):
        mesh = read_mesh(mesh)
    mesh.validate(require_cells=True)
    model_dim = int(meta["model_config"].get("dim", mesh.geometric_dim))
    if mesh.geometric_dim != model_dim:
        raise DataError(
            f"the mesh is {mesh.geometric_dim}D but the checkpoint {ckpt.name} was trained on {model_dim}D meshes", mesh.source
        )
    return mesh


def _write_outputs(result: Prediction, point_data: Dict[str, np.ndarray], title: str, out: Optional[PathLike],
                   png: bool, label: str = "prediction") -> Prediction:
    """Attach the point data to ``result.mesh``; write the VTU and the PNG (prediction, FEM, error panels).

    ``point_data["prediction"]`` is drawn in a panel titled ``label``; ``fem`` and ``error``,
    when present, become the other two panels.
    """
    from .io import write_mesh

    result.mesh = result.mesh.with_point_data(**point_data)
    if out is None:
        return result
    out = Path(out)
    result.files["vtu"] = write_mesh(out, result.mesh)
    if png:
        from .viz.fields import plot_fields

        panels = {label: point_data["prediction"]}
        if "fem" in point_data:
            panels.update({"FEM reference": point_data["fem"], "error (prediction - FEM)": point_data["error"]})
        if result.relative_l2 is not None:
            title += f" (relative L2 {result.relative_l2:.3f})"
        result.files["png"] = plot_fields(result.mesh, panels, out.with_suffix(".png"), title,
                                          shared_scale=(label, "FEM reference"))
    return result


def _run_model(model, normalizer, data, device: str, n: int):
    """Normalise, run the model without gradients, undo the scaling; (prediction (N,), seconds)."""
    data.batch = torch.zeros(n, dtype=torch.long)
    if normalizer is not None:
        data = normalizer(data)
    data = data.to(device)
    start = time.perf_counter()
    with torch.no_grad():
        pred = model(data)
    seconds = time.perf_counter() - start
    if normalizer is not None:
        pred = normalizer.inverse_y(pred)
    return pred.reshape(n, -1)[:, 0].double().cpu().numpy(), seconds


def _predict_elasticity(
    ckpt: Path, model, normalizer, meta: Mapping[str, Any], info: Mapping[str, Any], mesh: Union[Mesh, PathLike],
    source, boundary, out: Optional[PathLike], compare_fem: bool, png: bool, device: str,
) -> Prediction:
    """:func:`predict` for ``elasticity-holes`` models: von Mises stress under the training loading."""
    from .data.dataset import sample_graph

    name = info["problem"]
    given = [flag for flag, value in (("--source", source), ("--boundary", boundary)) if value is not None]
    if given:
        raise ConfigError(
            f"{' and '.join(given)} do not apply to a model trained on {name!r}: its loading is fixed (the bottom of "
            "the mesh's bounding box clamped, the top pulled upwards as in training); leave them out"
        )
    problem, from_manifest = training_problem(meta, name)
    mesh = elasticity_sides(_read_model_mesh(mesh, meta, ckpt))
    opts = problem.options
    lo, hi = mesh.bounding_box()
    notes = [
        f"loading as in training: bottom edge (y = {lo[1]:g}) clamped, traction (0, {opts['traction']:g}) on the "
        f"top edge (y = {hi[1]:g}); E = {opts['E']:g}, nu = {opts['nu']:g}, plane strain"
        + ("" if from_manifest else " (problem defaults: training dataset not found)")
    ]
    box_lo, box_hi = (np.asarray(c, dtype=np.float64) for c in FIXED_LOADING[name])
    for side in ("bottom", "top"):
        xs = mesh.points[mesh.groups[side].nodes(), 0]
        if xs.max() - xs.min() < (1 - 1e-6) * (hi[0] - lo[0]):
            notes.append(
                f"the {side} edge spans x = {xs.min():g}..{xs.max():g} only, not the whole width {lo[0]:g}..{hi[0]:g} "
                "of the bounding box (in training it always does)"
            )
    if not (np.allclose(lo, box_lo, atol=1e-6) and np.allclose(hi, box_hi, atol=1e-6)):
        notes.append(
            f"the model was trained on geometries filling the box {box_lo.tolist()}..{box_hi.tolist()}; this mesh spans "
            f"{np.round(lo, 6).tolist()}..{np.round(hi, 6).tolist()}, so the prediction is an extrapolation"
        )

    # the graph and node fields built exactly as for a training sample (graphops.data.dataset.sample_graph)
    fields = problem.loading(mesh)
    data = sample_graph(mesh, fields, radius=info.get("radius"))
    prediction, seconds = _run_model(model, normalizer, data, device, mesh.num_points)

    point_data: Dict[str, np.ndarray] = {
        "prediction": prediction, "g": fields["g"], "bc_dirichlet": fields["bc_dirichlet"].astype(np.float64)
    }
    result = Prediction(mesh=mesh, prediction=prediction, seconds=seconds, notes=notes)
    if compare_fem:
        start = time.perf_counter()
        sol = problem.solve(mesh)
        result.fem_seconds = time.perf_counter() - start
        point_data["fem"] = sol.von_mises
        point_data["error"] = prediction - sol.von_mises
        point_data["fem_displacement"] = sol.displacement
        result.relative_l2 = float(np.linalg.norm(point_data["error"]) / max(np.linalg.norm(sol.von_mises), 1e-300))
    title = f"{meta['model_name']} von Mises stress on {Path(mesh.source).name if mesh.source else 'mesh'}"
    return _write_outputs(result, point_data, title, out, png, label="prediction (von Mises)")
