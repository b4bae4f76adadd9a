"""The training data's frame: where its geometries sit, how large they are, and the ranges of its fields.

A model learns on geometries of one size at one place (the built-in problems
fill the unit box). :func:`frame_from_graphs` summarises a training set as a
:class:`Frame`: per training sample, a few *descriptors* (node count, extent
and aspect of the bounding box, element size, share of boundary nodes, and the
range of every node field and of the target). The trainer stores it in the
checkpoint (:func:`training_frame`, a plain dict: the checkpoint still loads
with ``weights_only=True``).

``graphops predict`` maps a new mesh into that frame with :func:`map_into`
(uniform scale of the longest side onto the frame's characteristic length, the
typical longest side of the training geometries; then, along each axis, a
translation that puts the mesh where the training geometries sit: its lower
bounding-box side onto theirs when the training geometries share their lower
sides, as generated data in ``[0, 1]^d`` boxes of several proportions do, or its
centre onto theirs when they share their centres), and compares the framed
input with the training descriptors in :func:`ood_report`: anything outside the
training range is named with both ranges.

Descriptors of one graph (:func:`graph_descriptors`)
----------------------------------------------------
``num_nodes``, ``element_size`` (median edge length of the graph),
``boundary_share`` (fraction of boundary nodes), ``extent_x/y/z`` (bounding
box sides), ``aspect`` (longest over shortest side), ``low_*``/``high_*``
(bounding box corners), and for every float node field ``NAME``:
``NAME.min``, ``NAME.max``, ``NAME.absmax``; the target as ``output.*``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..mesh import Mesh

#: Graph attributes that are geometry or bookkeeping, not input fields.
NOT_FIELDS = frozenset({
    "pos", "x", "y", "batch", "ptr", "boundary_mask", "boundary_normal", "boundary_distance", "boundary_direction",
    "edge_index", "edge_attr", "family", "sample_id",
})
AXES = "xyz"
#: Descriptors the out-of-distribution report checks (besides field ranges).
GEOMETRY_DESCRIPTORS = ("num_nodes", "element_size", "boundary_share", "aspect")
#: Relative slack of a range check (float noise, not a tolerance on the data).
RANGE_SLACK = 1e-6
#: Node count, element size and boundary share vary by a few percent between meshes drawn with the same
#: settings: their ranges are widened by this fraction of the training median before a value counts as outside.
MESH_STAT_MARGIN = 0.1
MESH_STATS = ("num_nodes", "element_size", "boundary_share")
#: Extents and aspect within 1% of the training ones count as inside (a 1473 x 1474 part is a square).
SHAPE_MARGIN = 0.01
#: Training samples summarised at most (evenly spaced over the training set).
MAX_SAMPLES = 1000
FORMAT = 1


@dataclass
class Frame:
    """The geometric frame and field ranges of a training set.

    Attributes
    ----------
    dim : int
        Geometric dimension of the training meshes.
    low, high : ndarray, shape (dim,)
        Typical bounding-box corners (medians over the training samples).
    descriptors : dict of str to ndarray
        Per-sample descriptors ``(S,)`` (see the module docstring); may be
        empty when only the problem's box is known.
    source : str
        Where the frame came from: ``"checkpoint"``, ``"dataset"`` (computed
        from the training data still on disk) or ``"problem"`` (the box the
        problem's geometries fill, no ranges).
    """

    dim: int
    low: np.ndarray
    high: np.ndarray
    descriptors: Dict[str, np.ndarray] = field(default_factory=dict)
    source: str = "checkpoint"

    @property
    def centre(self) -> np.ndarray:
        """Centre ``(dim,)`` of the typical bounding box."""
        return (np.asarray(self.low) + np.asarray(self.high)) / 2

    @property
    def length(self) -> float:
        """Characteristic length: the median longest bounding-box side of the training samples.

        Falls back to the longest side of the typical box when the per-sample
        extents are unknown.
        """
        extents = [self.descriptors.get(f"extent_{AXES[i]}") for i in range(self.dim)]
        if all(e is not None and len(e) for e in extents):
            return float(np.median(np.max(np.stack(extents, axis=1), axis=1)))
        return float(np.max(np.asarray(self.high) - np.asarray(self.low)))

    @property
    def anchors(self) -> Tuple[str, ...]:
        """Per axis, where the training geometries line up: ``"low"`` (lower sides) or ``"centre"``.

        The one of the two that varies less over the training samples; ``"low"``
        on a tie (all samples in one box) and when only the box is known.
        """
        out = []
        for i in range(self.dim):
            lows, highs = self.descriptors.get(f"low_{AXES[i]}"), self.descriptors.get(f"high_{AXES[i]}")
            if lows is None or highs is None or not len(lows):
                out.append("low")
                continue
            spread_low, spread_centre = np.ptp(lows), np.ptp((lows + highs) / 2)
            out.append("low" if spread_low <= spread_centre + RANGE_SLACK * self.length else "centre")
        return tuple(out)

    def anchor_target(self) -> np.ndarray:
        """Per axis, the point ``(dim,)`` a framed mesh's lower side or centre goes to (see :attr:`anchors`)."""
        target = np.asarray(self.low, dtype=np.float64).copy()
        for i, anchor in enumerate(self.anchors):
            lows, highs = self.descriptors.get(f"low_{AXES[i]}"), self.descriptors.get(f"high_{AXES[i]}")
            if anchor == "centre":
                target[i] = np.median((lows + highs) / 2) if lows is not None and len(lows) else self.centre[i]
            elif lows is not None and len(lows):
                target[i] = np.median(lows)
        return target

    @property
    def num_samples(self) -> int:
        return int(len(next(iter(self.descriptors.values())))) if self.descriptors else 0

    def range_of(self, name: str) -> Optional[Tuple[float, float]]:
        """``(min, max)`` of a descriptor over the training samples, or None."""
        values = self.descriptors.get(name)
        if values is None or not len(values):
            return None
        return float(np.min(values)), float(np.max(values))

    def to_dict(self) -> Dict[str, Any]:
        """Plain lists and numbers (safe for ``torch.load(weights_only=True)`` and JSON)."""
        return {
            "format": FORMAT,
            "dim": int(self.dim),
            "low": [float(v) for v in self.low],
            "high": [float(v) for v in self.high],
            "descriptors": {k: [float(v) for v in vals] for k, vals in self.descriptors.items()},
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any], source: str = "checkpoint") -> "Frame":
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ValueError
            Malformed payload (callers turn it into a CheckpointError).
        """
        if not isinstance(payload, Mapping) or payload.get("format") != FORMAT:
            raise ValueError("unknown frame format")
        low = np.asarray(payload["low"], dtype=np.float64)
        high = np.asarray(payload["high"], dtype=np.float64)
        if low.shape != (int(payload["dim"]),) or high.shape != low.shape or not np.all(high >= low):
            raise ValueError("frame corners do not match its dimension")
        descriptors = {str(k): np.asarray(v, dtype=np.float64) for k, v in dict(payload.get("descriptors") or {}).items()}
        return cls(int(payload["dim"]), low, high, descriptors, source)

    @classmethod
    def from_box(cls, low: Sequence[float], high: Sequence[float], source: str = "problem") -> "Frame":
        """A frame known only by its box (one pseudo-sample with its extents and aspect)."""
        low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
        extent = high - low
        descriptors = {f"extent_{AXES[i]}": np.asarray([extent[i]]) for i in range(len(low))}
        descriptors["aspect"] = np.asarray([extent.max() / max(extent.min(), 1e-300)])
        return cls(len(low), low, high, descriptors, source)


def graph_descriptors(data: Any) -> Dict[str, float]:
    """The descriptors of one graph (see the module docstring).

    Parameters
    ----------
    data : torch_geometric.data.Data
        A graph with ``pos`` (N, d); ``edge_index``, ``boundary_mask``, node
        fields and ``y`` are used when present.

    Returns
    -------
    dict of str to float
    """
    pos = data.pos.detach().double().cpu().numpy()
    n = len(pos)
    low, high = pos.min(axis=0), pos.max(axis=0)
    extent = high - low
    out: Dict[str, float] = {"num_nodes": float(n)}
    for i in range(pos.shape[1]):
        out[f"low_{AXES[i]}"], out[f"high_{AXES[i]}"] = float(low[i]), float(high[i])
        out[f"extent_{AXES[i]}"] = float(extent[i])
    out["aspect"] = float(extent.max() / max(extent.min(), 1e-300 + 1e-12 * extent.max()))
    edge_index = getattr(data, "edge_index", None)
    if edge_index is not None and edge_index.numel():
        from ..graph.edges import median_edge_length

        out["element_size"] = median_edge_length(data)
    mask = getattr(data, "boundary_mask", None)
    if mask is not None:
        out["boundary_share"] = float(mask.detach().cpu().numpy().astype(bool).mean())
    for key in data.keys():
        value = data[key]
        if key in NOT_FIELDS or not hasattr(value, "dtype") or not value.is_floating_point():
            continue
        if value.dim() == 0 or value.shape[0] != n:
            continue
        out.update(field_descriptors(key, value.detach().double().cpu().numpy()))
    y = getattr(data, "y", None)
    if y is not None and hasattr(y, "dtype") and y.shape[0] == n:
        out.update(field_descriptors("output", y.detach().double().cpu().numpy()))
    return out


def field_descriptors(name: str, values: np.ndarray) -> Dict[str, float]:
    """``NAME.min``, ``NAME.max``, ``NAME.absmax`` of a node field (all components together)."""
    values = np.asarray(values, dtype=np.float64)
    if not values.size:
        return {}
    return {f"{name}.min": float(values.min()), f"{name}.max": float(values.max()),
            f"{name}.absmax": float(np.abs(values).max())}


def frame_from_graphs(graphs: Sequence[Any], source: str = "checkpoint", max_samples: int = MAX_SAMPLES) -> Frame:
    """Summarise a training set (a sequence of graphs) as a :class:`Frame`.

    Parameters
    ----------
    graphs : sequence of Data
        The training graphs (a :class:`graphops.data.MeshDataset` view or a list).
    source : str
        Recorded in :attr:`Frame.source`.
    max_samples : int
        At most this many samples, evenly spaced, are summarised.

    Returns
    -------
    Frame
    """
    count = len(graphs)
    if count == 0:
        raise ValueError("no training graphs")
    picks = np.unique(np.linspace(0, count - 1, min(count, max_samples)).round().astype(int))
    rows = [graph_descriptors(graphs[int(i)]) for i in picks]
    keys = sorted(set.intersection(*(set(r) for r in rows)))
    descriptors = {k: np.asarray([r[k] for r in rows], dtype=np.float64) for k in keys}
    dim = sum(1 for a in AXES if f"low_{a}" in descriptors)
    low = np.asarray([np.median(descriptors[f"low_{a}"]) for a in AXES[:dim]])
    high = np.asarray([np.median(descriptors[f"high_{a}"]) for a in AXES[:dim]])
    return Frame(dim, low, high, descriptors, source)


def training_frame(graphs: Sequence[Any]) -> Optional[Dict[str, Any]]:
    """The frame of a training set as a plain dict for a checkpoint (None when it cannot be computed).

    Parameters
    ----------
    graphs : sequence of Data
        The training graphs (``pos`` and node fields).
    """
    try:
        return frame_from_graphs(graphs).to_dict()
    except (AttributeError, ValueError, TypeError, IndexError, KeyError):
        return None  # graphs without positions (not a mesh task): no frame


@dataclass(frozen=True)
class FrameMap:
    """``x' = target + (x - anchor) / scale``: a mesh's coordinates in the training frame.

    Attributes
    ----------
    scale : float
        ``s``: the mesh's characteristic length over the frame's.
    anchor : ndarray (d,)
        The point of the mesh that goes to ``target`` (per axis its lower
        bounding-box side or its centre, see :attr:`Frame.anchors`).
    target : ndarray (d,)
        Where it goes in the frame.
    """

    scale: float
    anchor: np.ndarray
    target: np.ndarray

    @classmethod
    def identity(cls, dim: int) -> "FrameMap":
        return cls(1.0, np.zeros(dim), np.zeros(dim))

    @property
    def is_identity(self) -> bool:
        return self.scale == 1.0 and np.array_equal(self.anchor, self.target)

    def points(self, points: np.ndarray) -> np.ndarray:
        """Coordinates ``(N, d)`` in the frame."""
        if self.is_identity:
            return points
        return self.target + (np.asarray(points, dtype=np.float64) - self.anchor) / self.scale

    def mesh(self, mesh: Mesh) -> Mesh:
        """The mesh with its points in the frame (cells, groups and data shared)."""
        if self.is_identity:
            return mesh
        return Mesh(self.points(mesh.points), dict(mesh.cells), dict(mesh.point_data), dict(mesh.cell_data),
                    dict(mesh.groups), mesh.source)

    def describe(self) -> str:
        return (f"mesh mapped into the training frame: {_fmt(self.anchor)} -> {_fmt(self.target)}, "
                f"lengths divided by {self.scale:.6g}")


def map_into(frame: Frame, mesh: Mesh) -> FrameMap:
    """The map that puts ``mesh`` into ``frame``.

    The longest bounding-box side goes onto the frame's characteristic length
    (:attr:`Frame.length`); along each axis the mesh's lower side or centre
    goes where the training geometries' lower sides or centres are
    (:attr:`Frame.anchors`, :meth:`Frame.anchor_target`).
    """
    low, high = mesh.bounding_box()
    length = float(np.max(high - low))
    if length <= 0:
        return FrameMap.identity(mesh.geometric_dim)
    anchor = np.where(np.asarray(frame.anchors) == "low", low, (low + high) / 2)
    return FrameMap(length / frame.length, anchor, frame.anchor_target())


def amplitude_factor(frame: Frame, fields: Mapping[str, np.ndarray], linear_inputs: Sequence[str]) -> float:
    """The factor ``lambda >= 1`` that brings too large jointly linear inputs back into the training magnitudes.

    When the largest absolute value of some linear input exceeds the largest
    one of that input in every training sample, every linear input is divided
    by ``lambda`` (chosen so that the furthest one lands on the training
    median) and the prediction is multiplied by it. Returns 1 otherwise (small
    inputs are left alone: zero lies inside every linear problem's range),
    and when no linear input has training statistics.
    """
    ratios, above = [], False
    for name in linear_inputs:
        values = frame.descriptors.get(f"{name}.absmax")
        if name not in fields or values is None or not len(values):
            continue
        given = float(np.abs(np.asarray(fields[name], dtype=np.float64)).max(initial=0.0))
        median = float(np.median(values))
        if median <= 0:
            continue
        ratios.append(given / median)
        above |= not _inside(given, 0.0, float(values.max()))
    return float(max(ratios)) if above else 1.0


@dataclass
class OODReport:
    """How a prediction's input compares with the training data.

    Attributes
    ----------
    entries : list of dict
        One per checked quantity: ``quantity``, ``value``, ``low``, ``high``
        (training range) and ``inside`` (bool).
    frame_source : str
        Where the training statistics came from (see :attr:`Frame.source`).
    novelty : dict, optional
        The novelty detector's verdict when one was run.
    descriptors : dict of str to float
        All descriptors of the framed input (see the module docstring).
    """

    entries: List[Dict[str, Any]] = field(default_factory=list)
    frame_source: str = ""
    novelty: Optional[Dict[str, Any]] = None
    descriptors: Dict[str, float] = field(default_factory=dict)

    @property
    def outside(self) -> List[Dict[str, Any]]:
        return [e for e in self.entries if not e["inside"]]

    @property
    def warnings(self) -> List[str]:
        """One line per quantity outside the training range, naming both ranges."""
        return [
            f"{e['quantity']} is {_fmt(e['value'])}, outside the training range {_fmt(e['low'])}..{_fmt(e['high'])}"
            for e in self.outside
        ]

    def lines(self) -> List[str]:
        """A short printed summary."""
        checked = len(self.entries)
        if not checked:
            return ["out-of-distribution check: no training statistics in the checkpoint"]
        head = (f"out-of-distribution check against the training data ({self.frame_source}): "
                f"{checked - len(self.outside)} of {checked} quantities inside the training range")
        return [head] + [f"warning: {w}" for w in self.warnings]

    def to_dict(self) -> Dict[str, Any]:
        return {"frame_source": self.frame_source, "inside": not self.outside, "warnings": self.warnings,
                "entries": self.entries, "novelty": self.novelty, "descriptors": self.descriptors}


def ood_report(frame: Frame, descriptors: Mapping[str, float], linear_inputs: Sequence[str] = ()) -> OODReport:
    """Compare a framed input's descriptors with the training ranges.

    Parameters
    ----------
    frame : Frame
    descriptors : mapping of str to float
        :func:`graph_descriptors` of the framed input (plus ``output.*`` of the
        prediction).
    linear_inputs : sequence of str
        Inputs the problem is jointly linear in: the balance between each pair
        (``A.absmax/B.absmax``, unchanged by the amplitude scaling of
        :func:`amplitude_factor`) is checked too.

    Returns
    -------
    OODReport
        Checked: node count, element size, boundary share (each range
        widened by :data:`MESH_STAT_MARGIN` of its median), aspect and the
        extents (widened by :data:`SHAPE_MARGIN`) against their per-sample
        training ranges; the smallest and
        largest value of every field the training data also has (``NAME.min``,
        ``NAME.max``, the output as ``output.*``) against the range of values
        the training data spans; the balance of each pair of linear inputs
        against its per-sample training range.
    """
    names = [n for n in GEOMETRY_DESCRIPTORS if n in descriptors]
    names += [f"extent_{a}" for a in AXES if f"extent_{a}" in descriptors]
    names += sorted(k for k in descriptors if k.endswith((".min", ".max")))
    descriptors = dict(descriptors)
    frame_descriptors = dict(frame.descriptors)
    for i, a in enumerate(linear_inputs):
        for b in linear_inputs[i + 1:]:
            keys = (f"{a}.absmax", f"{b}.absmax")
            if all(k in descriptors and k in frame_descriptors for k in keys):
                ratio = f"{a}.absmax/{b}.absmax"
                descriptors[ratio] = descriptors[keys[0]] / max(descriptors[keys[1]], 1e-300)
                frame_descriptors[ratio] = frame_descriptors[keys[0]] / np.maximum(frame_descriptors[keys[1]], 1e-300)
                names.append(ratio)
    frame = Frame(frame.dim, frame.low, frame.high, frame_descriptors, frame.source)
    report = OODReport(frame_source=frame.source, descriptors={k: float(v) for k, v in descriptors.items()})
    for name in names:
        span = frame.range_of(name)
        if name.endswith((".min", ".max")):  # a field's values against the values the training data spans
            stem = name.rsplit(".", 1)[0]
            low, high = frame.range_of(f"{stem}.min"), frame.range_of(f"{stem}.max")
            span = None if low is None or high is None else (low[0], high[1])
        if span is None:
            continue
        value = float(descriptors[name])
        share = MESH_STAT_MARGIN if name in MESH_STATS else SHAPE_MARGIN if name == "aspect" or name.startswith("extent_") else 0.0
        margin = share * abs(float(np.median(frame.descriptors[name]))) if share else 0.0
        report.entries.append({"quantity": name, "value": value, "low": span[0], "high": span[1],
                               "inside": _inside(value, span[0] - margin, span[1] + margin)})
    return report


def _inside(value: float, low: float, high: float) -> bool:
    slack = RANGE_SLACK * max(abs(low), abs(high), abs(high - low))
    return bool(low - slack <= value <= high + slack)


def _fmt(value: Any) -> str:
    if np.ndim(value):
        return "(" + ", ".join(f"{float(v):.4g}" for v in np.ravel(value)) + ")"
    return f"{float(value):.4g}"
