"""``predict`` for models trained on an imported dataset: named input fields in, named targets out.

The new mesh must carry the point fields the model was trained with (same
names, same components); the prediction is written back under the targets'
own names (2-component vectors padded to 3 so ParaView's Warp By Vector works).
When the mesh also carries the targets (e.g. the other solver's solution),
those are kept as ``<name>_given`` with ``<name>_error`` = prediction - given,
and the relative L2 error over all targets is reported in the notes.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np
import torch

from ..errors import CheckpointError
from ..mesh import Mesh
from .imported import ImportedProblem

PathLike = Union[str, "Path"]


def predict_imported(ckpt: Path, model, normalizer, meta: Mapping[str, Any], info: Mapping[str, Any],
                     mesh: Union[Mesh, PathLike], out: Optional[PathLike], png: bool, device: str,
                     scalars: Optional[Mapping[str, float]] = None):
    """Predict the named targets on ``mesh`` (see the module docstring); returns a :class:`graphops.predict.Prediction`."""
    from ..predict import Prediction, _read_model_mesh, _write_outputs
    from .dataset import sample_graph
    from .importer import Source, read_source

    if "imported" not in info:
        raise CheckpointError("the checkpoint was trained on an imported dataset but does not record its fields "
                              "(trained with an older graphops?)", ckpt)
    problem = ImportedProblem(info["imported"])
    field_data: Dict[str, float] = {}
    if not isinstance(mesh, Mesh):
        mesh, field_data, _ = read_source(Source(str(mesh)), bool(problem.spec.scalars))
    mesh = _read_model_mesh(mesh, meta, ckpt)
    values = dict(field_data)
    values.update(scalars or {})
    fields = problem.loading(mesh, {k: values[k] for k in problem.spec.scalars if k in values})
    data = sample_graph(mesh, fields, radius=info.get("radius"))
    n = mesh.num_points
    data.batch = torch.zeros(n, dtype=torch.long)
    if normalizer is not None:
        data = normalizer(data)
    data = data.to(device)
    start = time.perf_counter()
    with torch.no_grad():
        y = model(data)
    seconds = time.perf_counter() - start
    if normalizer is not None:
        y = normalizer.inverse_y(y)
    y = y.reshape(n, -1).double().cpu().numpy()

    given = problem.given_targets(mesh)
    named = problem.named_outputs(y)
    point_data: Dict[str, np.ndarray] = {}
    for name, value in given.items():
        point_data[f"{name}_given"] = value
    point_data.update(named)
    result = Prediction(mesh=mesh, prediction=y, seconds=seconds)
    if given and len(given) == len(problem.targets):
        errors, norms = 0.0, 0.0
        for name, value in given.items():
            pred = split_like(named[name], value)
            point_data[f"{name}_error"] = pred - value
            errors += float(np.sum((pred - value) ** 2))
            norms += float(np.sum(value ** 2))
        rel = float(np.sqrt(errors / max(norms, 1e-300)))
        result.notes.append(f"relative L2 error against the {', '.join(given)} the mesh carries: {rel:.4f}")
    result.notes.append("inputs " + ", ".join(problem.input_names) + " read from the mesh; wrote "
                        + ", ".join(named))
    plot = png and mesh.geometric_dim == 2 and problem.targets[0]["components"] == 1
    first = problem.targets[0]["name"]
    panels = {"prediction": named[first]}
    if first in given:
        panels.update(fem=given[first], error=point_data[f"{first}_error"])
    result = _write_outputs(result, point_data, f"{meta['model_name']}: {first}", out, png=False)
    if plot and out is not None:
        from ..viz.fields import plot_fields

        titles = {"prediction": f"{first} predicted", "fem": f"{first} given", "error": "error (predicted - given)"}
        result.files["png"] = plot_fields(mesh, {titles[k]: v for k, v in panels.items()},
                                          Path(out).with_suffix(".png"), f"{meta['model_name']}: {first}",
                                          shared_scale=(titles["prediction"], titles["fem"]))
    return result


def split_like(pred: np.ndarray, given: np.ndarray) -> np.ndarray:
    """The prediction with the given field's components (undo the 3-component padding of 2D vectors)."""
    return pred if pred.ndim == 1 else pred[:, : given.shape[1]]
