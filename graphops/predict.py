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

Many queries on one mesh (``source`` / ``boundary`` lists or ``queries=``)
run steps 1, 2 and 4 per query, exactly as alone, but read the checkpoint
and the mesh, map the mesh and build its graph once, and run step 3 on
batches of queries (:class:`graphops.inference.InferenceSession`); the
reference solves share one factorisation where the problem's solver allows
(:meth:`graphops.data.problems.Problem.reference_solutions`).
"""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .errors import CheckpointError, ConfigError, DataError, GraphopsError
from .mesh import Mesh

#: Where the model runs: on the mesh's own graph, or on a coarse graph at the training element size.
RESOLUTIONS = ("native", "training")

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
        Model inference time (graph building excluded); for queries
        evaluated as one batch, the batch's time divided by its queries.
    fem_seconds : float or None
        FEM solve time of the reference, when computed (for several queries,
        the time of all their solves, factorisation included, divided by
        their number).
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
    source: Union[InputSpec, Sequence[InputSpec]] = None,
    boundary: Union[InputSpec, Sequence[InputSpec]] = None,
    out: Optional[PathLike] = None,
    compare_fem: bool = False,
    png: bool = True,
    device: str = "cpu",
    inputs: Optional[Mapping[str, InputSpec]] = None,
    rescale: bool = True,
    strict: bool = False,
    queries: Optional[Sequence[Mapping[str, InputSpec]]] = None,
    resolution: str = "native",
) -> Union[Prediction, List[Prediction]]:
    """Predict the solution field on ``mesh`` with the model in ``checkpoint``.

    One query (a set of inputs) gives one :class:`Prediction`. Several
    queries on the same mesh (``source`` / ``boundary`` given as lists, or
    ``queries``) give a list of them: the mesh is read, checked and mapped
    into the training frame once, its graph built once, and the model
    evaluates the queries as batches
    (:class:`graphops.inference.InferenceSession`); each query is rescaled
    and checked against the training data on its own, exactly as if it were
    alone.

    Parameters
    ----------
    checkpoint : path-like
        A checkpoint written by ``graphops train``.
    mesh : Mesh or path-like
        The geometry (any format :func:`graphops.io.read_mesh` reads), in any
        units and at any place.
    source : str, number, ndarray (N,) or list of them, optional
        Poisson source term f: a formula in x, y, z (the mesh's own
        coordinates), the name of a point field of the mesh, a constant or
        nodal values. Default 0. Same as ``inputs={"source": ...}``. A list
        (or tuple) gives one query per entry.
    boundary : str, number, ndarray (N,) or list of them, optional
        Poisson boundary values g (Dirichlet value or Neumann flux, by the
        problem the model learned), same forms; used at boundary nodes only.
        Same as ``inputs={"boundary": ...}``. A list gives one query per
        entry; with ``source`` also a list, both must have the same length
        (query ``i`` is ``source[i]`` with ``boundary[i]``).
    out : path-like, optional
        VTU file to write (a PNG with the same stem and the report
        ``STEM.ood.json`` are written beside it). With several queries, query
        ``i`` is written to ``STEM_000.vtu``, ``STEM_001.vtu``... (with its
        own PNG and report; ParaView opens the numbered files as one series),
        and ``STEM.queries.json`` lists every query's inputs, files and scores.
    compare_fem : bool
        Also solve the problem with the reference FEM solver and report the
        error. Several queries share one assembly and factorisation where the
        problem's solver allows it (Poisson: :class:`graphops.solvers.PoissonSystem`).
    png : bool
        Write the PNG plot.
    device : str
    inputs : mapping of str to input, optional
        Further inputs by name, as the problem names them
        (``problem.prediction_inputs``); shared by every query.
    rescale : bool
        Map the mesh into the training frame and transform the fields by the
        problem's similarity law (default). Problems without a known law are
        never rescaled.
    strict : bool
        Raise instead of warning when the input lies outside the training data.
    queries : sequence of mapping, optional
        Several queries, each a mapping of input name (``source``,
        ``boundary`` or any of ``problem.prediction_inputs``) to input, on
        top of ``inputs`` and of ``source`` / ``boundary`` when those are
        single values.
    resolution : {"native", "training"}
        ``"native"`` (default): the model runs on the mesh's own graph.
        ``"training"``: on a mesh at least 1.5 times finer than the training
        meshes (in the training frame), the model runs on a coarse graph of
        the part at the training element size and its prediction is
        interpolated to every mesh node (:mod:`graphops.graph.coarsen`):
        tens to hundreds of times faster on fine meshes, and the model sees
        the element size it learned on (``docs/benchmarks/inference.md``).
        Detail finer than the training elements (a small hole, a graded
        region) is seen at that size only.

    Returns
    -------
    Prediction or list of Prediction
        A list (one per query, in order) when ``queries`` is given or
        ``source`` / ``boundary`` is a list; otherwise one Prediction.

    Raises
    ------
    CheckpointError, MeshError, DataError, ConfigError
        Corrupt or foreign checkpoint, unreadable mesh, mesh of the wrong
        dimension, missing or inapplicable inputs, bad formulas, non-finite
        inputs or predictions, an input outside the training data with
        ``strict``; lists of different lengths. With several queries the
        message starts with ``query I:`` (counted from 0) when one query is at
        fault, and nothing is written.
    """
    from .data.dataset import sample_graph
    from .data.frame import FrameMap, map_into
    from .train.checkpoint import load_model
    from .tasks import decide_task

    if resolution not in RESOLUTIONS:
        raise ConfigError(f"resolution must be one of {', '.join(RESOLUTIONS)}, got {resolution!r}")
    specs, many = query_inputs(source, boundary, inputs, queries)
    ckpt = Path(checkpoint).expanduser()
    model, normalizer, meta = load_model(ckpt, map_location=device)
    decide_task(checkpoint=meta, require="fields", command="predict", path=ckpt)
    info = problem_of(meta, ckpt)
    problem, from_manifest = training_problem(meta, info["problem"])
    for i, given in enumerate(specs):
        with _naming_query(i, many):
            problem.check_inputs(given)
    mesh = problem.prediction_mesh(_read_model_mesh(mesh, meta, ckpt))
    fields_list = []
    for i, given in enumerate(specs):
        with _naming_query(i, many):
            fields = problem.prediction_fields(mesh, given)
            _require_finite(fields, "input", mesh)
        fields_list.append(fields)
    notes = problem.prediction_notes(mesh)
    if not from_manifest:
        notes.append("problem options are the problem's defaults (the training dataset was not found)")

    frame = model_frame(meta, ckpt, problem)
    law = problem.similarity
    frame_map = FrameMap.identity(mesh.geometric_dim)
    if rescale and law is not None and frame is not None:
        frame_map = map_into(frame, mesh)
    framed = []
    for i, fields in enumerate(fields_list):
        with _naming_query(i, many):
            framed.append(_into_frame(fields, frame, frame_map, law, problem.name, rescale, mesh))

    graph = sample_graph(frame_map.mesh(mesh), {}, radius=info.get("radius"))
    spacing = None
    if resolution == "training":
        spacing = training_element_size(frame)
        if spacing is None:
            notes.append("resolution 'training' needs the training element size, which the checkpoint does not record: "
                         "the model ran on the mesh's own graph")
    session = _session(model, normalizer, graph, device, spacing)
    framed_predictions, seconds = _run_model(session, [model_fields for model_fields, _, _ in framed])
    seen = session.coarsening
    if seen is not None:
        notes.append(f"evaluated on a coarse graph of {seen.graph.num_nodes} nodes at the training element size "
                     f"({seen.spacing:.4g} in the training frame; the mesh's is {seen.fine_spacing:.4g}) and "
                     f"interpolated to the {mesh.num_points} mesh nodes")

    loop_notes = []
    if session.loop_reason and len(specs) > 1:
        loop_notes.append(f"the {len(specs)} queries were evaluated one at a time: {session.loop_reason}")

    results, point_data_list, outputs_list = [], [], []
    for i, (fields, (model_fields, amplitude, frame_notes)) in enumerate(zip(fields_list, framed)):
        with _naming_query(i, many):
            result, point_data, outputs = _query_result(problem, mesh, graph, fields, model_fields,
                                                        framed_predictions[i], amplitude, frame, frame_map, law, strict,
                                                        seen)
        result.seconds = float(seconds[i])
        result.notes = notes + frame_notes + loop_notes
        results.append(result)
        point_data_list.append(point_data)
        outputs_list.append(outputs)
    if compare_fem:
        references, fem_seconds = _references(problem, mesh, fields_list, many)
        for result, reference, outputs, point_data in zip(results, references, outputs_list, point_data_list):
            result.fem_seconds = fem_seconds
            _compare(reference, outputs, point_data, result)

    name = f"{meta['model_name']} on {Path(mesh.source).name if mesh.source else 'mesh'}"
    for i, (result, point_data) in enumerate(zip(results, point_data_list)):
        title = f"{name}, query {i}" if many else name
        target = None if out is None else (query_path(out, i, len(results)) if many else out)
        _write_outputs(result, point_data, title, target, png, label=problem.output_label)
    if many and out is not None:
        _write_query_index(Path(out), specs, results)
    return results if many else results[0]


def query_inputs(source: Any, boundary: Any, inputs: Optional[Mapping[str, InputSpec]],
                 queries: Optional[Sequence[Mapping[str, InputSpec]]]) -> Tuple[List[Dict[str, Any]], bool]:
    """The inputs of every query of a :func:`predict` call.

    Parameters
    ----------
    source, boundary, inputs, queries
        As :func:`predict` takes them.

    Returns
    -------
    specs : list of dict
        One per query: input name -> input (None values left out).
    many : bool
        Whether several queries were asked for (a list comes back).

    Raises
    ------
    ConfigError
        ``source`` and ``boundary`` lists of different lengths, an empty
        list, lists together with ``queries``, or a query that is not a
        mapping of names.
    """
    from .errors import ConfigError

    shared = {"source": source, "boundary": boundary, **dict(inputs or {})}
    lists = {k: v for k, v in (("source", source), ("boundary", boundary)) if isinstance(v, (list, tuple))}
    if queries is not None:
        if lists:
            raise ConfigError(f"give several queries either as queries=[...] or as {' and '.join(lists)} lists, not both")
        if isinstance(queries, (Mapping, str)) or not isinstance(queries, Sequence):
            raise ConfigError(f"queries must be a list of mappings (input name -> input), got {type(queries).__name__}")
        for i, query in enumerate(queries):
            if not isinstance(query, Mapping) or not all(isinstance(k, str) for k in query):
                raise ConfigError(f"query {i}: must be a mapping of input names (e.g. source, boundary) to inputs, "
                                  f"got {query!r}")
        rows = [dict(query) for query in queries]
    elif lists:
        lengths = {k: len(v) for k, v in lists.items()}
        if len(set(lengths.values())) > 1:
            raise ConfigError("source and boundary lists pair up query by query and must have the same length, got "
                              + " and ".join(f"{n} {k} value(s)" for k, n in lengths.items()))
        count = next(iter(lengths.values()))
        rows = [{k: v[i] for k, v in lists.items()} for i in range(count)]
    else:
        return [{k: v for k, v in shared.items() if v is not None}], False
    if not rows:
        raise ConfigError("no queries: give at least one (a list of source / boundary values or of input mappings)")
    base = {k: v for k, v in shared.items() if k not in lists}
    return [{k: v for k, v in {**base, **row}.items() if v is not None} for row in rows], True


def query_path(out: PathLike, index: int, count: int) -> Path:
    """Where query ``index`` of ``count`` is written: ``out`` with ``_000`` (wide enough for ``count``) before the suffix."""
    out = Path(out)
    width = max(3, len(str(count - 1)))
    return out.with_name(f"{out.stem}_{index:0{width}d}{out.suffix}")


@contextmanager
def _naming_query(index: int, many: bool) -> Iterator[None]:
    """Prefix a GraphopsError raised inside with ``query INDEX:`` when there are several queries."""
    try:
        yield
    except GraphopsError as exc:
        if not many:
            raise
        try:
            renamed = type(exc)(f"query {index}: {exc.problem}", exc.path)
        except TypeError:  # pragma: no cover - a subclass with another signature
            renamed = GraphopsError(f"query {index}: {exc.problem}", exc.path)
        raise renamed from None


def _into_frame(fields: Mapping[str, np.ndarray], frame, frame_map, law, problem_name: str, rescale: bool,
                mesh: Mesh) -> Tuple[Dict[str, np.ndarray], float, List[str]]:
    """One query's fields in the training frame: (model fields, amplitude factor, notes on how)."""
    from .data.frame import amplitude_factor

    model_fields, amplitude, notes = dict(fields), 1.0, []
    if rescale and law is not None and frame is not None:
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
        notes.append(f"no similarity law is known for {problem_name!r}: the mesh is used as it is")
    elif rescale:
        notes.append("the checkpoint records no training frame (and its dataset is gone): the mesh is used as it is")
    _require_finite(model_fields, "input in the training frame", mesh, float32=True)
    return model_fields, amplitude, notes


def _query_result(problem, mesh: Mesh, graph, fields, model_fields, framed_prediction: np.ndarray, amplitude: float,
                  frame, frame_map, law, strict: bool,
                  coarsening=None) -> Tuple[Prediction, Dict[str, np.ndarray], Dict[str, np.ndarray]]:
    """One query's prediction in the user's units, its OOD report, point data and named outputs (nothing written).

    With a ``coarsening`` the report describes the coarse graph the model saw (and its inputs there).
    """
    from torch_geometric.data import Data

    from .data.dataset import with_fields
    from .data.frame import field_descriptors, graph_descriptors, ood_report

    if not np.isfinite(framed_prediction).all():
        raise DataError(f"the model's prediction has NaN or infinite values at "
                        f"{int((~np.isfinite(framed_prediction)).any(axis=1).sum())} nodes; nothing was written", mesh.source)
    prediction = framed_prediction if law is None else law.output_from_frame(framed_prediction, frame_map.scale)
    prediction = prediction * amplitude

    report = None
    if frame is not None:
        if coarsening is not None:
            graph = coarsening.graph
            model_fields = {k: coarsening.restrict(v) for k, v in model_fields.items()}
        descriptors = graph_descriptors(with_fields(Data(**dict(graph.items())), model_fields))
        descriptors.update(field_descriptors("output", framed_prediction))
        report = ood_report(frame, descriptors, law.linear_inputs if law is not None else ())
        if strict and report.outside:
            raise DataError("the input is outside the training data (--strict): " + "; ".join(report.warnings),
                            mesh.source)

    outputs = problem.output_fields(prediction)
    point_data: Dict[str, np.ndarray] = {k: np.asarray(v, dtype=np.float64) for k, v in fields.items()}
    point_data.update(outputs)
    result = Prediction(mesh=mesh, prediction=prediction[:, 0] if prediction.shape[1] == 1 else prediction,
                        seconds=0.0, report=report, scale=frame_map.scale)
    return result, point_data, outputs


def training_element_size(frame) -> Optional[float]:
    """The median element size of the training graphs (training-frame units), or None when the frame lacks it."""
    sizes = None if frame is None else frame.descriptors.get("element_size")
    if sizes is None or not len(sizes):
        return None
    value = float(np.median(np.asarray(sizes, dtype=float)))
    return value if np.isfinite(value) and value > 0 else None


def _session(model, normalizer, graph, device: str, coarsen: Optional[float] = None):
    """The inference session of one mesh's graph (threads: ``GRAPHOPS_THREADS`` if set, else torch's setting)."""
    from .inference import InferenceSession, default_threads

    threads = default_threads() if os.environ.get("GRAPHOPS_THREADS") else torch.get_num_threads()
    return InferenceSession(model, graph, normalizer=normalizer, threads=threads, device=device, coarsen=coarsen)


def _run_model(session, model_fields: Sequence[Mapping[str, np.ndarray]]) -> Tuple[np.ndarray, np.ndarray]:
    """Evaluate every query's framed fields: (predictions (Q, N, C) float64, model seconds per query (Q,))."""
    values = session.predict(list(model_fields)).astype(np.float64)
    return values, session.seconds.copy()


def _write_query_index(out: Path, specs: Sequence[Mapping[str, Any]], results: Sequence[Prediction]) -> Path:
    """``STEM.queries.json`` beside the numbered outputs: each query's inputs, files, times, error and OOD warnings."""
    from .utils.atomic import atomic_write

    def shown(value: Any) -> Any:
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        return f"array {tuple(np.shape(value))}"

    rows = []
    for i, (spec, result) in enumerate(zip(specs, results)):
        rows.append({
            "query": i,
            "inputs": {k: shown(v) for k, v in spec.items()},
            "files": {k: str(p) for k, p in result.files.items()},
            "seconds": result.seconds,
            "fem_seconds": result.fem_seconds,
            "relative_l2": result.relative_l2,
            "outside_training_data": list(result.report.warnings) if result.report is not None else [],
        })
    path = out.with_suffix(".queries.json")
    with atomic_write(path, mode="w") as handle:
        json.dump({"mesh": str(results[0].mesh.source) if results[0].mesh.source else None, "queries": rows}, handle,
                  indent=2)
    return path


def _references(problem, mesh: Mesh, fields_list: Sequence[Mapping[str, np.ndarray]],
                many: bool) -> Tuple[List[Dict[str, np.ndarray]], float]:
    """The reference solutions of every query and the solve time per query.

    One query: :meth:`Problem.reference_solution`. Several:
    :meth:`Problem.reference_solutions` (a solver that can factorise once does,
    and the time is shared equally).
    """
    start = time.perf_counter()
    if many:
        references = problem.reference_solutions(mesh, fields_list)
    else:
        references = [problem.reference_solution(mesh, fields_list[0])]
    return references, (time.perf_counter() - start) / len(fields_list)


def _compare(reference: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray],
             point_data: Dict[str, np.ndarray], result: Prediction) -> None:
    """Add the reference solution ``fem`` / ``error`` (or ``NAME_fem`` / ``NAME_error``) and the relative L2."""
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
