"""Predict a field on a user's own mesh with a trained checkpoint (``graphops predict``).

The checkpoint alone rebuilds the model (its stored config), the normaliser and
the problem it was trained on; the mesh file gives the geometry. ``predict``
holds no physics: the problem (:mod:`graphops.data.problems`, prediction
protocol) turns the mesh and the user's inputs into the model's node fields,
names the outputs and solves the reference problem, and its similarity law
(:mod:`graphops.data.similarity`) says how fields change with the length scale.

Steps
-----
1. The problem's node fields are built on the mesh in the user's own
   coordinates and units (formulas are evaluated there).
2. Unless ``rescale=False``, the mesh is mapped into the training data's frame
   (:mod:`graphops.data.frame`: longest side onto its characteristic length,
   lower sides or centres where the training geometries have theirs) and the fields are transformed
   by the similarity law; inputs of a problem that is linear in them are
   brought into the training magnitudes by one factor.
3. The model predicts in the frame; the prediction is mapped back by the
   inverse law.
4. The framed input is compared with the training data's statistics (the
   out-of-distribution report, written beside the VTU as ``NAME.ood.json``);
   ``strict=True`` makes a quantity outside its training range an error.
   Non-finite inputs or predictions are always errors, never files.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np
import torch

from .errors import CheckpointError, DataError, GraphopsError
from .mesh import Mesh

PathLike = Union[str, "os.PathLike[str]"]
InputSpec = Union[None, str, float, np.ndarray]


@dataclass
class Prediction:
    """What :func:`predict` computed and wrote.

    Attributes
    ----------
    mesh : Mesh
        The input mesh (user coordinates) with point data: the model's input
        fields (``f``, ``g``...), the named outputs (``prediction`` for the
        built-in problems) and, when compared, ``fem`` and ``error``.
    prediction : ndarray, shape (N,) or (N, C)
        The model output in the user's units (one column is returned as (N,)).
    seconds : float
        Model inference time (graph building excluded).
    fem_seconds : float or None
        FEM solve time of the reference, when computed.
    relative_l2 : float or None
        ``||pred - fem|| / ||fem||`` over the nodes, when compared.
    files : dict of str to Path
        ``vtu``, ``png`` and ``ood`` (the JSON report) outputs.
    notes : list of str
        What the user should know about the set-up (the loading applied, the
        map into the training frame, the similarity law used).
    report : OODReport or None
        The out-of-distribution report (None when the checkpoint's training
        frame is unknown).
    scale : float
        The length ratio ``s`` of the map into the training frame (1 without rescaling).
    """

    mesh: Mesh
    prediction: np.ndarray
    seconds: float
    fem_seconds: Optional[float] = None
    relative_l2: Optional[float] = None
    files: Dict[str, Path] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    report: Any = None
    scale: float = 1.0


def problem_of(meta: Mapping[str, Any], path: PathLike) -> Dict[str, Any]:
    """The dataset description stored with a checkpoint (problem name, graph radius)."""
    info = (meta.get("extra") or {}).get("dataset") or {}
    if not info.get("problem"):
        raise CheckpointError("the checkpoint does not record which problem it was trained on", path)
    return dict(info)


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
    from .data.imported import IMPORTED_PROBLEM, imported_problem
    from .data.problems import get_problem

    if name == IMPORTED_PROBLEM:  # its fields are recorded in the checkpoint (graphops.data.imported)
        return imported_problem(meta), True
    root = ((meta.get("run_config") or {}).get("data") or {}).get("root")
    if root:
        try:
            manifest = read_manifest(root)
        except GraphopsError:
            manifest = {}
        if manifest.get("problem") == name and isinstance(manifest.get("config"), dict):
            return get_problem(name, tiny=bool(manifest.get("tiny")), **manifest["config"]), True
    return get_problem(name), False


def model_frame(meta: Mapping[str, Any], path: PathLike, problem):
    """The training frame a checkpoint's model works in (:class:`graphops.data.frame.Frame`), or None.

    Stored in the checkpoint; else recomputed from the training dataset when
    still on disk; else the box the problem's geometries fill.
    """
    from .data.frame import Frame
    from .train.checkpoint import checkpoint_frame

    frame = checkpoint_frame(meta, path)
    if frame is None:
        box = problem.reference_frame()
        if box is not None:
            frame = Frame.from_box(box["low"], box["high"])
    return frame


def predict(
    checkpoint: PathLike,
    mesh: Union[Mesh, PathLike],
    source: InputSpec = None,
    boundary: InputSpec = None,
    out: Optional[PathLike] = None,
    compare_fem: bool = False,
    png: bool = True,
    device: str = "cpu",
    inputs: Optional[Mapping[str, InputSpec]] = None,
    rescale: bool = True,
    strict: bool = False,
) -> Prediction:
    """Predict the solution field on ``mesh`` with the model in ``checkpoint``.

    Parameters
    ----------
    checkpoint : path-like
        A checkpoint written by ``graphops train``.
    mesh : Mesh or path-like
        The geometry (any format :func:`graphops.io.read_mesh` reads), in any
        units and at any place.
    source : str, number or ndarray (N,), optional
        Poisson source term f: a formula in x, y, z (the mesh's own
        coordinates), the name of a point field of the mesh, a constant or
        nodal values. Default 0. Same as ``inputs={"source": ...}``.
    boundary : str, number or ndarray (N,), optional
        Poisson boundary values g (Dirichlet value or Neumann flux, by the
        problem the model learned), same forms; used at boundary nodes only.
        Same as ``inputs={"boundary": ...}``.
    out : path-like, optional
        VTU file to write (a PNG with the same stem and the report
        ``STEM.ood.json`` are written beside it).
    compare_fem : bool
        Also solve the problem with the reference FEM solver and report the error.
    png : bool
        Write the PNG plot.
    device : str
    inputs : mapping of str to input, optional
        Further inputs by name, as the problem names them
        (``problem.prediction_inputs``).
    rescale : bool
        Map the mesh into the training frame and transform the fields by the
        problem's similarity law (default). Problems without a known law are
        never rescaled.
    strict : bool
        Raise instead of warning when the input lies outside the training data.

    Returns
    -------
    Prediction

    Raises
    ------
    CheckpointError, MeshError, DataError, ConfigError
        Corrupt or foreign checkpoint, unreadable mesh, mesh of the wrong
        dimension, missing or inapplicable inputs, bad formulas, non-finite
        inputs or predictions, an input outside the training data with
        ``strict``.
    """
    from .data.dataset import sample_graph
    from .data.frame import FrameMap, amplitude_factor, field_descriptors, graph_descriptors, map_into, ood_report
    from .train.checkpoint import load_model
    from .tasks import decide_task

    ckpt = Path(checkpoint).expanduser()
    model, normalizer, meta = load_model(ckpt, map_location=device)
    decide_task(checkpoint=meta, require="fields", command="predict", path=ckpt)
    info = problem_of(meta, ckpt)
    problem, from_manifest = training_problem(meta, info["problem"])
    given = {"source": source, "boundary": boundary, **dict(inputs or {})}
    given = {k: v for k, v in given.items() if v is not None}
    problem.check_inputs(given)
    mesh = problem.prediction_mesh(_read_model_mesh(mesh, meta, ckpt))
    fields = problem.prediction_fields(mesh, given)
    _require_finite(fields, "input", mesh)
    notes = problem.prediction_notes(mesh)
    if not from_manifest:
        notes.append("problem options are the problem's defaults (the training dataset was not found)")

    frame = model_frame(meta, ckpt, problem)
    law = problem.similarity
    frame_map = FrameMap.identity(mesh.geometric_dim)
    model_fields, amplitude = dict(fields), 1.0
    if rescale and law is not None and frame is not None:
        frame_map = map_into(frame, mesh)
        model_fields = law.inputs_to_frame(fields, frame_map.scale)
        amplitude = amplitude_factor(frame, model_fields, law.linear_inputs)
        if amplitude != 1.0:
            model_fields = {k: (v / amplitude if k in law.linear_inputs else v) for k, v in model_fields.items()}
        if not frame_map.is_identity:
            notes.append(f"{frame_map.describe()}; similarity law: {law.description}")
        if amplitude != 1.0:
            notes.append(f"inputs {', '.join(law.linear_inputs)} divided by {amplitude:.6g} into the training "
                         "magnitudes and the prediction multiplied by it (the problem is linear in them)")
    elif rescale and law is None:
        notes.append(f"no similarity law is known for {problem.name!r}: the mesh is used as it is")
    elif rescale:
        notes.append("the checkpoint records no training frame (and its dataset is gone): the mesh is used as it is")
    _require_finite(model_fields, "input in the training frame", mesh, float32=True)

    data = sample_graph(frame_map.mesh(mesh), model_fields, radius=info.get("radius"))
    framed_prediction, seconds = _run_model(model, normalizer, data, device, mesh.num_points)
    if not np.isfinite(framed_prediction).all():
        raise DataError(f"the model's prediction has NaN or infinite values at "
                        f"{int((~np.isfinite(framed_prediction)).any(axis=1).sum())} nodes; nothing was written", mesh.source)
    prediction = framed_prediction if law is None else law.output_from_frame(framed_prediction, frame_map.scale)
    prediction = prediction * amplitude

    report = None
    if frame is not None:
        descriptors = graph_descriptors(data)
        descriptors.update(field_descriptors("output", framed_prediction))
        report = ood_report(frame, descriptors, law.linear_inputs if law is not None else ())
        if strict and report.outside:
            raise DataError("the input is outside the training data (--strict): " + "; ".join(report.warnings),
                            mesh.source)

    outputs = problem.output_fields(prediction)
    point_data: Dict[str, np.ndarray] = {k: np.asarray(v, dtype=np.float64) for k, v in fields.items()}
    point_data.update(outputs)
    result = Prediction(mesh=mesh, prediction=prediction[:, 0] if prediction.shape[1] == 1 else prediction,
                        seconds=seconds, notes=notes, report=report, scale=frame_map.scale)
    if compare_fem:
        _compare(problem, mesh, fields, outputs, point_data, result)
    title = f"{meta['model_name']} on {Path(mesh.source).name if mesh.source else 'mesh'}"
    return _write_outputs(result, point_data, title, out, png, label=problem.output_label)


def _compare(problem, mesh: Mesh, fields: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray],
             point_data: Dict[str, np.ndarray], result: Prediction) -> None:
    """Solve the reference problem; add ``fem`` / ``error`` (or ``NAME_fem`` / ``NAME_error``) and the relative L2."""
    start = time.perf_counter()
    reference = problem.reference_solution(mesh, fields)
    result.fem_seconds = time.perf_counter() - start
    compared = [name for name in outputs if name in reference]
    single = len(outputs) == 1
    errors, norms = 0.0, 0.0
    for name, values in reference.items():
        if name not in outputs:
            point_data[name] = values
            continue
        error = outputs[name] - values
        point_data["fem" if single else f"{name}_fem"] = values
        point_data["error" if single else f"{name}_error"] = error
        errors += float(np.sum(error**2))
        norms += float(np.sum(np.asarray(values, dtype=np.float64) ** 2))
    if compared:
        result.relative_l2 = float(np.sqrt(errors) / max(np.sqrt(norms), 1e-300))


def _require_finite(fields: Mapping[str, np.ndarray], what: str, mesh: Mesh, float32: bool = False) -> None:
    """DataError naming the first field with NaN / infinite values (or values beyond float32 when asked)."""
    limit = float(np.finfo(np.float32).max) if float32 else np.inf
    for name, values in fields.items():
        values = np.asarray(values)
        if values.dtype == bool:
            continue
        bad = ~np.isfinite(values) | (np.abs(values) > limit)
        if bad.any():
            raise DataError(f"the {what} field {name!r} has NaN, infinite or float32-overflowing values "
                            f"(first at node {int(np.flatnonzero(bad.reshape(len(values), -1).any(axis=1))[0])})",
                            mesh.source)


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
    """Attach the point data to ``result.mesh``; write the VTU, the report JSON and the PNG.

    ``point_data["prediction"]`` (when there is one) is drawn in a panel titled
    ``label``; ``fem`` and ``error``, when present, become the other two panels.
    """
    from .io import write_mesh
    from .utils.atomic import atomic_write

    result.mesh = result.mesh.with_point_data(**point_data)
    if out is None:
        return result
    out = Path(out)
    result.files["vtu"] = write_mesh(out, result.mesh)
    if result.report is not None:
        report_path = out.with_suffix(".ood.json")
        with atomic_write(report_path, mode="w") as handle:
            json.dump({**result.report.to_dict(), "scale": result.scale, "notes": result.notes}, handle, indent=2)
        result.files["ood"] = report_path
    if png and "prediction" in point_data and np.ndim(point_data["prediction"]) == 1:
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
    """Normalise, run the model without gradients, undo the scaling; (prediction (N, C) float64, seconds)."""
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
    return pred.reshape(n, -1).double().cpu().numpy(), seconds
