"""One imported sample: a user's mesh with named point fields -> the arrays a dataset stores.

The models read the fixed slots of every graphops field dataset (see
:mod:`graphops.models.features`); an :class:`~graphops.data.import_spec.ImportSpec`
says which named fields fill them:

* ``f`` ``(N, C_in)``: the ``inputs`` point fields side by side (a vector
  field gives one column per component), then the per-sample ``scalars``
  repeated at every node;
* ``g`` ``(N, C_g)``: the ``boundary.values`` field at the marked boundary
  nodes, 0 elsewhere (one zero column without a values field);
* ``bc_dirichlet`` ``(N,)`` bool: the marked boundary nodes (nodes of the
  ``boundary.groups``, or non-zero ``boundary.marker``; without either, the
  mesh boundary when a values field is named, else none);
* ``y`` ``(N, C_out)``: the ``targets`` side by side.

The *layout* (spatial dimension and the components of every named field, taken
from the first file) is stored in the manifest; every other file must match
it, and a predicted ``y`` is split back into the named targets with it.
Volume cells of any linear type are stored in one padded block: ``cells``
``(M, W)`` int32 (``W`` = 4 in 2D, 8 in 3D, -1 padding) with ``cell_type`` ``(M,)``
codes into :data:`CELL_TYPES`.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..cells import CELL_CORNERS, CELL_DIM
from ..errors import DataError, GraphopsError, MeshError
from ..mesh import Mesh
from .import_spec import ImportSpec
from .problems import Problem, pad_vector

#: Volume cell types an imported sample may hold; ``cell_type`` codes index this tuple.
CELL_TYPES: Tuple[str, ...] = ("triangle", "quad", "tetra", "hexahedron", "wedge", "pyramid")
#: Width of the padded ``cells`` block per spatial dimension.
CELL_WIDTH = {2: 4, 3: 8}
#: Problem name of imported datasets (in the manifest and checkpoints).
IMPORTED_PROBLEM = "imported"
#: The dataset slots the models read (node fields) and the target slot.
NODE_SLOTS = ("f", "g", "bc_dirichlet")
TARGET_SLOT = "y"


def point_field(mesh: Mesh, name: str) -> np.ndarray:
    """Point field ``name`` of ``mesh`` as a finite float array ``(N, c)``.

    Raises
    ------
    DataError
        The field is missing (cell data of that name is called out: graphops
        imports point data), not numeric, or holds NaN/inf; named with the file.
    """
    if name not in mesh.point_data:
        if name in mesh.cell_data:
            raise DataError(
                f"field {name!r} is cell data (one value per cell), graphops imports point data (one value per "
                "node): convert it to point data first (e.g. ParaView's Cell Data to Point Data)", mesh.source)
        known = ", ".join(repr(k) for k in mesh.point_data) or "none"
        raise DataError(f"has no point field {name!r} (point fields: {known})", mesh.source)
    value = np.asarray(mesh.point_data[name])
    if value.dtype.kind not in "biuf":
        raise DataError(f"point field {name!r} is not numeric (dtype {value.dtype})", mesh.source)
    value = value.reshape(len(value), -1).astype(np.float64, copy=False)
    bad = ~np.isfinite(value)
    if bad.any():
        rows = np.unique(np.nonzero(bad)[0])
        raise DataError(f"point field {name!r} has NaN or infinite values at {len(rows)} node(s) (first: node {rows[0]})",
                        mesh.source)
    return value


def volume_block(mesh: Mesh) -> Tuple[np.ndarray, np.ndarray]:
    """The mesh's volume cells as one padded block.

    Returns
    -------
    cells : ndarray, shape (M, W), int32
        Corner nodes, -1 padding (``W`` from :data:`CELL_WIDTH`).
    cell_type : ndarray, shape (M,), int8
        Index into :data:`CELL_TYPES`.

    Raises
    ------
    MeshError
        No volume cells, or only surface cells in 3D space.
    """
    mesh.validate(require_cells=True)
    d = mesh.geometric_dim
    blocks = {t: c for t, c in mesh.volume_cells().items() if CELL_DIM[t] == d}
    if not blocks:
        found = ", ".join(f"{t} ({len(c)})" for t, c in mesh.volume_cells().items())
        raise MeshError(f"has only surface cells ({found}) in 3D space; graphops needs volume cells "
                        "(tetrahedra, hexahedra, wedges or pyramids)", mesh.source)
    width = CELL_WIDTH[d]
    cells, codes = [], []
    for t, c in blocks.items():
        if mesh.num_points >= 2**31:
            raise MeshError(f"has {mesh.num_points} nodes; imported meshes are limited to 2^31 - 1", mesh.source)
        padded = np.full((len(c), width), -1, dtype=np.int32)
        padded[:, : c.shape[1]] = c
        cells.append(padded)
        codes.append(np.full(len(c), CELL_TYPES.index(t), dtype=np.int8))
    return np.concatenate(cells), np.concatenate(codes)


def cells_from_block(cells: np.ndarray, cell_type: np.ndarray) -> Dict[str, np.ndarray]:
    """Inverse of :func:`volume_block`: cell type -> connectivity ``(M_t, corners)``."""
    out: Dict[str, np.ndarray] = {}
    for code in np.unique(cell_type):
        name = CELL_TYPES[int(code)]
        out[name] = np.asarray(cells[cell_type == code, : CELL_CORNERS[name]], dtype=np.int64)
    return out


def layout_of(mesh: Mesh, spec: ImportSpec, scalars: Mapping[str, float], with_targets: bool = True) -> Dict[str, Any]:
    """The layout of one file: spatial dimension and the components of every named field."""
    names = spec.point_fields if with_targets else spec.input_fields
    return {
        "dim": mesh.geometric_dim,
        "components": {name: int(point_field(mesh, name).shape[1]) for name in names},
        "scalars": list(scalars),
        "source": mesh.source,
    }


def check_layout(layout: Mapping[str, Any], reference: Mapping[str, Any], source: Optional[str]) -> None:
    """Raise :class:`DataError` when a file's layout differs from the reference (the first file's)."""
    first = reference.get("source") or "the first file"
    if layout["dim"] != reference["dim"]:
        raise DataError(f"is a {layout['dim']}D mesh, but {first} is {reference['dim']}D (one dataset holds one "
                        "dimension: import 2D and 3D files separately)", source)
    for name, comps in layout["components"].items():
        want = reference["components"].get(name)
        if want is not None and comps != want:
            raise DataError(f"point field {name!r} has {comps} component(s) per node, but {want} in {first}", source)


def boundary_mask(mesh: Mesh, spec: ImportSpec) -> np.ndarray:
    """Marked boundary nodes ``(N,)`` bool (see the module docstring)."""
    if spec.boundary_groups:
        mask = np.zeros(mesh.num_points, dtype=bool)
        for name in spec.boundary_groups:
            try:
                group = mesh.group(name)
            except MeshError as exc:
                raise DataError(exc.problem, mesh.source) from None
            mask[group.nodes()] = True
        return mask
    if spec.boundary_marker:
        return np.any(point_field(mesh, spec.boundary_marker) != 0, axis=1)
    if spec.boundary_values:
        from ..boundary import boundary_nodes

        return boundary_nodes(mesh)
    return np.zeros(mesh.num_points, dtype=bool)


def sample_arrays(mesh: Mesh, spec: ImportSpec, scalars: Mapping[str, float],
                  reference: Optional[Mapping[str, Any]] = None, with_targets: bool = True) -> Dict[str, np.ndarray]:
    """The stored arrays of one sample (module docstring), checked against the reference layout.

    Parameters
    ----------
    mesh : Mesh
        Read from the user's file (its ``source`` names it in errors).
    spec : ImportSpec
    scalars : mapping of str to float
        The sample's scalars (every name in ``spec.scalars``).
    reference : mapping, optional
        Layout of the first file (:func:`layout_of`); None skips the comparison.
    with_targets : bool
        Also read the targets into ``y`` (False for prediction inputs).

    Returns
    -------
    dict
        ``points`` (N, d) float64, ``cells`` (M, W) int32, ``cell_type`` (M,)
        int8, ``f`` (N, C_in), ``g`` (N, C_g), ``y`` (N, C_out) float32,
        ``bc_dirichlet`` (N,) bool, ``scalars`` (K,) float64, ``family`` int64.
    """
    cells, cell_type = volume_block(mesh)
    layout = layout_of(mesh, spec, scalars, with_targets)
    if reference is not None:
        check_layout(layout, reference, mesh.source)
    n = mesh.num_points
    values = [scalars[name] for name in spec.scalars]
    columns = [point_field(mesh, name) for name in spec.inputs]
    columns += [np.full((n, 1), v) for v in values]
    f = np.concatenate(columns, axis=1) if columns else np.zeros((n, 0))
    mask = boundary_mask(mesh, spec)
    if spec.boundary_values:
        g = point_field(mesh, spec.boundary_values) * mask[:, None]
    else:
        g = np.zeros((n, 1))
    out = {
        "points": mesh.points,
        "cells": cells,
        "cell_type": cell_type,
        "f": f.astype(np.float32),
        "g": g.astype(np.float32),
        "bc_dirichlet": mask,
        "scalars": np.asarray(values, dtype=np.float64),
        "family": np.asarray(int(round(scalars[spec.family])) if spec.family else 0, dtype=np.int64),
    }
    if with_targets:
        out["y"] = np.concatenate([point_field(mesh, name) for name in spec.targets], axis=1).astype(np.float32)
    return out


def split_targets(y: np.ndarray, targets: List[Mapping[str, Any]]) -> Dict[str, np.ndarray]:
    """Split predicted ``y`` ``(N, C_out)`` back into the named targets (manifest ``targets`` entries).

    A scalar target comes back as ``(N,)``, a vector one as ``(N, c)``.
    """
    out, start = {}, 0
    for entry in targets:
        c = int(entry["components"])
        part = np.asarray(y[:, start : start + c])
        out[entry["name"]] = part[:, 0] if c == 1 else part
        start += c
    if start != y.shape[1]:
        raise DataError(f"the prediction has {y.shape[1]} channel(s), the dataset's targets have {start}")
    return out


def describe_fields(spec: ImportSpec, reference: Mapping[str, Any]) -> Dict[str, Any]:
    """Manifest entries naming what each slot holds: inputs, targets, scalars, boundary, channel counts."""
    comps = reference["components"]
    inputs = [{"name": n, "components": comps[n]} for n in spec.inputs]
    targets = [{"name": n, "components": comps[n]} for n in spec.targets]
    in_channels = sum(e["components"] for e in inputs) + len(spec.scalars)
    boundary_channels = comps[spec.boundary_values] if spec.boundary_values else 1
    return {
        "inputs": inputs,
        "targets": targets,
        "scalars": list(spec.scalars),
        "boundary": {"groups": list(spec.boundary_groups), "marker": spec.boundary_marker,
                     "values": spec.boundary_values,
                     "components": boundary_channels},
        "channels": {"dim": int(reference["dim"]), "in_channels": in_channels,
                     "boundary_channels": boundary_channels,
                     "out_channels": sum(e["components"] for e in targets)},
    }


def sample_problem(exc: GraphopsError) -> str:
    """The one-line problem of an import error, without the file (the caller names it)."""
    return exc.problem.splitlines()[0] if exc.problem else type(exc).__name__


def model_config_for(model: Mapping[str, Any], manifest: Mapping[str, Any]) -> Dict[str, Any]:
    """A model section with the channel counts an imported dataset implies filled in.

    Keys the user set are kept; the others among ``dim``, ``in_channels``,
    ``boundary_channels``, ``out_channels`` (and, for the grid models NU-FNO
    and the global FNO, ``in_fields`` = ``f``, ``g``, ``bc_dirichlet`` with
    their total width as ``in_channels``) come from the manifest's
    ``channels``. Other datasets' model sections are returned unchanged.

    Parameters
    ----------
    model : mapping
        The run config's ``model`` section (``name`` and options).
    manifest : mapping
        The dataset manifest.

    Returns
    -------
    dict
    """
    from ..models.registry import default_config

    out = dict(model)
    channels = manifest.get("channels") if manifest.get("problem") == IMPORTED_PROBLEM else None
    if not isinstance(channels, Mapping) or not isinstance(out.get("name"), str):
        return out
    accepted = default_config(out["name"])
    values = dict(channels)
    if "in_fields" in accepted:  # grid models read named node fields
        values.pop("in_channels")
        if "in_fields" not in out:
            out["in_fields"] = list(NODE_SLOTS)
            values["in_channels"] = channels["in_channels"] + channels["boundary_channels"] + 1
    for key, value in values.items():
        if key in accepted and key not in out:
            out[key] = int(value)
    return out


def checkpoint_info(manifest: Mapping[str, Any]) -> Dict[str, Any]:
    """What a checkpoint keeps of an imported dataset's manifest so ``predict`` can rebuild its inputs
    and name its outputs without the dataset (empty for other datasets)."""
    if manifest.get("problem") != IMPORTED_PROBLEM:
        return {}
    keys = ("inputs", "targets", "scalars", "boundary", "channels", "layout")
    return {"imported": {"spec": manifest["config"]["spec"], **{k: manifest.get(k) for k in keys}}}


def imported_problem(meta: Mapping[str, Any], path: Optional[str] = None) -> "ImportedProblem":
    """The :class:`ImportedProblem` of a checkpoint trained on an imported dataset.

    Raises
    ------
    CheckpointError
        The checkpoint does not record the dataset's fields.
    """
    from ..errors import CheckpointError

    info = ((meta.get("extra") or {}).get("dataset") or {}).get("imported")
    if not isinstance(info, Mapping):
        raise CheckpointError("the checkpoint was trained on an imported dataset but does not record its fields "
                              "(written by an older graphops?)", path)
    return ImportedProblem(info)


class ImportedProblem(Problem):
    """The problem of an imported dataset, for ``predict`` (the prediction protocol of
    :mod:`graphops.data.problems`): which named point fields of a mesh are the model's inputs,
    how its output becomes the named targets, and the "reference solution": the targets the
    mesh itself carries (e.g. the other solver's solution) when it has them.

    Parameters
    ----------
    info : mapping
        :func:`checkpoint_info` ``["imported"]`` (spec, inputs, targets, layout).
    """

    name = IMPORTED_PROBLEM
    description = "fields imported from a user's simulation files"
    #: No similarity law is known for a user's physics: predict uses the mesh as it is.
    similarity = None

    def __init__(self, info: Mapping[str, Any]) -> None:
        from .import_spec import parse_spec

        super().__init__()
        self.info = dict(info)
        raw = dict(info["spec"])
        raw.pop("scalars_csv", None)  # at prediction time scalars are inputs
        self.spec = parse_spec(raw)
        self.targets = list(info["targets"])
        self.reference = dict(info["layout"])
        comps = self.reference["components"]
        self.prediction_inputs = {
            **{n: f"point field {n!r} ({comps[n]} component(s)): a field of the mesh by default, or a formula"
               for n in self.spec.input_fields},
            **{n: f"per-sample scalar {n!r} (a number)" for n in self.spec.scalars},
        }
        self.output_label = ", ".join(e["name"] for e in self.targets)

    def prediction_fields(self, mesh: Mesh, inputs: Mapping[str, Any]) -> Dict[str, np.ndarray]:
        """``f``, ``g``, ``bc_dirichlet`` from the mesh's named input fields (``inputs`` may replace a field by
        a formula, a point field name or values, and must give the scalars).

        Raises
        ------
        DataError
            A named input field is missing or has other components than in training, a
            scalar is missing, or the mesh has another dimension.
        """
        from .problems import input_field

        comps = self.reference["components"]
        replaced = {}
        for name in self.spec.input_fields:
            if inputs.get(name) is not None:
                c = comps[name]
                replaced[name] = input_field(inputs[name], mesh, name, components=None if c == 1 else c)
        if replaced:
            mesh = mesh.with_point_data(**replaced)
        scalars = {n: float(inputs[n]) for n in self.spec.scalars if inputs.get(n) is not None}
        missing = [n for n in self.spec.scalars if n not in scalars]
        if missing:
            raise DataError(f"the model was trained with per-sample scalar(s) {', '.join(missing)}: give their "
                            "values (inputs={name: value})", mesh.source)
        reference = dict(self.reference, components={k: v for k, v in comps.items() if k in self.spec.input_fields})
        arrays = sample_arrays(mesh, self.spec, scalars, reference, with_targets=False)
        return {k: arrays[k] for k in NODE_SLOTS}

    def prediction_notes(self, mesh: Mesh) -> List[str]:
        return [f"inputs {', '.join(self.spec.input_fields)} read from the mesh; writes "
                f"{', '.join(e['name'] for e in self.targets)} under the training names"]

    def reference_solution(self, mesh: Mesh, fields: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """The targets the mesh carries (the other solver's solution), keyed like :meth:`output_fields`.

        Raises
        ------
        ConfigError
            The mesh carries none of the targets with the training components.
        """
        from ..errors import ConfigError

        out = {}
        for entry in self.targets:
            if entry["name"] in mesh.point_data:
                value = point_field(mesh, entry["name"])
                if value.shape[1] == entry["components"]:
                    out[entry["name"]] = value[:, 0] if value.shape[1] == 1 else pad_vector(value)
        if not out:
            names = ", ".join(e["name"] for e in self.targets)
            raise ConfigError(f"there is no reference solver for imported data: --compare-fem compares with the "
                              f"target field(s) {names} of the mesh itself, which it does not carry")
        return out

    def output_fields(self, prediction: np.ndarray) -> Dict[str, np.ndarray]:
        """Model output ``(N, C_out)`` -> the targets under their names; 2-component vectors padded to 3."""
        return {name: pad_vector(v) for name, v in split_targets(np.asarray(prediction), self.targets).items()}
