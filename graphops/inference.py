"""Fast repeated inference on one mesh: geometry built once, many right-hand sides in one batch.

A trained field model answers a query (its input node fields on a fixed mesh:
a source ``f`` and boundary data ``g`` for Poisson, whatever fields the
problem's ``prediction_fields`` builds in general) with one forward pass, but
the mesh graph (edges, boundary features) and, for BENO, the boundary-token
choice and each node's nearest tokens depend on the geometry alone. :class:`InferenceSession` builds them
once and reuses them for every query:

>>> session = InferenceSession("best.pt", mesh, fixed={"bc_dirichlet": on_boundary})  # doctest: +SKIP
>>> u = session.predict([{"f": f1, "g": g1}, {"f": f2, "g": g2}])  # (2, N, C)  # doctest: +SKIP
>>> u1 = session.predict_one({"f": f1, "g": g1})                   # (N, C)     # doctest: +SKIP

Queries are stacked into one disjoint-union graph (``Q`` copies of the mesh
graph, the geometry tensors and the attention context repeated, not
recomputed) and evaluated in chunks of at most ``max_batch_nodes`` nodes, in
float32 under :func:`torch.inference_mode`, with the model's normaliser
applied to the inputs and undone on the outputs exactly as in training.

On a mesh much finer than the training meshes, ``coarsen=spacing`` (e.g. the
training element size, which :func:`graphops.predict` reads from the
checkpoint with ``resolution="training"``) evaluates the model on a coarse
graph of the same part at that spacing (:func:`graphops.graph.coarsen.coarsen_graph`)
and interpolates its prediction to every mesh node: the model then sees the
element size it was trained on, at a cost set by the part's size in elements of
that size rather than by the mesh (``docs/benchmarks/inference.md``).

Entry points
------------
:class:`InferenceSession`
    ``InferenceSession(checkpoint | model, mesh | graph, normalizer=..., fixed=...,
    radius=..., threads=..., compile=..., max_batch_nodes=..., device=...)``; then
    :meth:`InferenceSession.predict` (a list of queries -> ``(Q, N, C)``) and
    :meth:`InferenceSession.predict_one` (one query -> ``(N, C)``).
:func:`stack_graph`
    ``Q`` copies of a graph as one batch (what the session feeds the model).
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn
from torch_geometric.data import Data

from .data.dataset import with_fields
from .errors import ConfigError, DataError
from .mesh import Mesh

#: Geometry attributes of a mesh graph that every query shares (repeated, never recomputed, in a batch).
GEOMETRY_FIELDS = ("pos", "x", "boundary_mask", "boundary_normal", "boundary_distance", "boundary_direction")
#: Default cap on the nodes evaluated at once (queries times mesh nodes): on CPU, chunks of a few thousand
#: nodes keep the working set in cache (batches of 64 x 1k-10k nodes in one chunk were slower per query).
MAX_BATCH_NODES = 1 << 13

ArrayLike = Union[np.ndarray, torch.Tensor, float, int]


def default_threads() -> int:
    """Threads for inference: ``GRAPHOPS_THREADS`` if set, else every core the process may use."""
    env = os.environ.get("GRAPHOPS_THREADS")
    if env:
        try:
            value = int(env)
        except ValueError:
            raise ConfigError(f"GRAPHOPS_THREADS must be a positive integer, got {env!r}") from None
        if value < 1:
            raise ConfigError(f"GRAPHOPS_THREADS must be a positive integer, got {env!r}")
        return value
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def torch_threads(threads: Optional[int]) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads (None: leave as is), restoring the setting after."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def stack_graph(graph: Data, copies: int, fields: Sequence[str] = GEOMETRY_FIELDS) -> Data:
    """``copies`` copies of a graph as one disjoint-union graph (a batch of identical meshes).

    Parameters
    ----------
    graph : Data
        With ``edge_index`` (2, E), ``edge_attr`` (E, c) and the node ``fields``.
    copies : int
    fields : sequence of str
        Node attributes to repeat (those the graph lacks are skipped).

    Returns
    -------
    Data
        ``copies * N`` nodes, copy ``q`` at ``q N .. (q + 1) N - 1``; ``edge_index``
        (2, copies E) offset per copy, ``edge_attr`` repeated, ``batch`` (copies N,)
        and ``num_graphs = copies``.
    """
    n = graph.num_nodes
    e = graph.edge_index.shape[1]
    offsets = torch.arange(copies, dtype=graph.edge_index.dtype).repeat_interleave(e) * n
    out = Data(
        edge_index=graph.edge_index.repeat(1, copies) + offsets,
        edge_attr=graph.edge_attr.repeat(copies, 1),
        num_nodes=copies * n,
    )
    for name in fields:
        value = getattr(graph, name, None)
        if isinstance(value, torch.Tensor):
            out[name] = value.repeat((copies,) + (1,) * (value.dim() - 1))
    out.batch = torch.arange(copies).repeat_interleave(n)
    out.num_graphs = copies
    return out


class InferenceSession:
    """A trained field model bound to one mesh, answering many queries fast.

    A *query* is a dict of the node fields that change between evaluations
    (the model inputs a problem builds with ``prediction_fields``: ``f``,
    ``g``, ``a``, ``bc_dirichlet`` for Poisson, the imported slots for an
    imported dataset, ``g`` and ``bc_dirichlet`` for elasticity...). The
    session does not assume any names: every query of one call must give the
    same fields, or take them from ``fixed``.

    Parameters
    ----------
    model : path-like or nn.Module
        A checkpoint (loaded with :func:`graphops.train.checkpoint.load_model`,
        which also gives the normaliser and the training graph radius) or a
        model in memory.
    mesh : Mesh or Data
        The mesh (its graph is built here, once, with
        :func:`graphops.graph.mesh_to_graph`) or a graph already built.
    normalizer : FieldNormalizer, optional
        With a model in memory: the scales it was trained with (a checkpoint
        brings its own).
    fixed : dict, optional
        Node fields every query shares (e.g. ``bc_dirichlet`` (N,) bool,
        ``a`` (N,)); a query may override them. A ``bc_dirichlet`` that
        neither ``fixed`` nor the queries give is all False.
    radius : float, optional
        Extra radius edges of the graph (default: the checkpoint's training
        radius, else none).
    threads : int, optional
        Intra-op threads while predicting (default :func:`default_threads`).
    compile : bool
        Wrap the model in :func:`torch.compile` (off by default; see
        ``docs/benchmarks/inference.md`` for when it pays on CPU).
    max_batch_nodes : int
        Most nodes evaluated at once (queries x mesh nodes); larger query lists
        are evaluated in chunks.
    device : str
        Where the model runs (``"cpu"``, ``"cuda"``); outputs come back as NumPy.
    coarsen : float, optional
        Evaluate on a coarse graph of the mesh at this node spacing (in the
        graph's units) and interpolate to the mesh nodes; ignored when the mesh
        is not at least 1.5 times finer (see :mod:`graphops.graph.coarsen`).
        Queries still give (and predictions still have) one value per mesh node.

    Attributes
    ----------
    graph : Data
        The graph the model runs on (float32, on ``device``): the mesh graph,
        or its coarse graph when coarsened.
    coarsening : Coarsening or None
        The coarse graph and the maps between mesh and coarse nodes, when coarsened.
    context : object or None
        The model's cached geometry context (``model.geometry_context(graph)``
        where the model has one, e.g. BENO's local boundary attention).
    graph_seconds : float
        Time spent building the graph and the context.
    loop_reason : str or None
        Why queries are evaluated one at a time instead of as batches (None
        when they can be batched): a model that declares ``batch_queries =
        False``. (A mesh of more than ``max_batch_nodes / 2`` nodes is also
        evaluated one query per pass, by choice: on CPU, larger batches are
        no faster per query, see ``docs/benchmarks/inference.md``.)
    seconds : ndarray, shape (Q,)
        Model time of each query of the last :meth:`predict` call (a chunk's
        time shared equally by its queries).
    """

    def __init__(
        self,
        model: Union[str, os.PathLike, nn.Module],
        mesh: Union[Mesh, Data],
        normalizer=None,
        fixed: Optional[Mapping[str, ArrayLike]] = None,
        radius: Optional[float] = None,
        threads: Optional[int] = None,
        compile: bool = False,
        max_batch_nodes: int = MAX_BATCH_NODES,
        device: str = "cpu",
        coarsen: Optional[float] = None,
    ) -> None:
        self.meta: Dict[str, Any] = {}
        if isinstance(model, (str, os.PathLike)):
            from .train.checkpoint import load_model

            model, normalizer, self.meta = load_model(Path(model))
            if radius is None:
                radius = ((self.meta.get("extra") or {}).get("dataset") or {}).get("radius")
        if not isinstance(model, nn.Module):
            raise ConfigError(f"InferenceSession needs a checkpoint path or a torch model, got {type(model).__name__}")
        if isinstance(max_batch_nodes, bool) or not isinstance(max_batch_nodes, int) or max_batch_nodes < 1:
            raise ConfigError(f"max_batch_nodes must be a positive integer, got {max_batch_nodes!r}")
        self.device = torch.device(device)
        self.model = model.float().to(self.device).eval()
        self.normalizer = normalizer
        self.threads = default_threads() if threads is None else int(threads)
        self.max_batch_nodes = max_batch_nodes
        self.seconds = np.zeros(0)
        start = time.perf_counter()
        with torch_threads(self.threads), torch.inference_mode():
            if isinstance(mesh, Mesh):
                from .graph import mesh_to_graph

                graph = mesh_to_graph(mesh, radius=radius)
            elif isinstance(mesh, Data):
                graph = mesh
            else:
                raise ConfigError(f"InferenceSession needs a Mesh or a graph (Data), got {type(mesh).__name__}")
            graph = self._float32(graph)
            self.num_nodes = int(graph.num_nodes)
            self.coarsening = None
            if coarsen is not None:
                from .graph.coarsen import coarsen_graph

                self.coarsening = coarsen_graph(graph, coarsen)
                if self.coarsening is not None:
                    graph = self.coarsening.graph
            self.graph = graph.to(self.device)
            self._model_nodes = int(self.graph.num_nodes)
            self.fixed = {"bc_dirichlet": np.zeros(self.num_nodes, dtype=bool)}
            self.fixed.update({k: self._node_array(k, v, where="fixed") for k, v in (fixed or {}).items()})
            make_context = getattr(self.model, "geometry_context", None)  # reads the geometry only
            self.context = make_context(self.graph) if callable(make_context) else None
        self.graph_seconds = time.perf_counter() - start
        self.loop_reason: Optional[str] = None
        if getattr(self.model, "batch_queries", True) is False:
            self.loop_reason = (f"the model ({type(self.model).__name__}) declares batch_queries = False: it cannot "
                                "take several graphs in one batch")
        self._stacks: Dict[int, tuple] = {}
        self._forward = torch.compile(self.model, dynamic=False) if compile else self.model

    @staticmethod
    def _float32(graph: Data) -> Data:
        graph = graph.clone()
        for key, value in graph.items():
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                graph[key] = value.float()
        return graph

    def _node_array(self, name: str, value: ArrayLike, where: str = "query") -> np.ndarray:
        """A query field as a NumPy array of one value per node (scalars broadcast)."""
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        arr = np.asarray(value)
        if arr.ndim == 0:
            arr = np.full(self.num_nodes, arr.item(), dtype=arr.dtype)
        if arr.shape[0] != self.num_nodes:
            raise DataError(f"{where} field {name!r} has {arr.shape[0]} values, the mesh has {self.num_nodes} nodes")
        if arr.dtype != bool and not np.all(np.isfinite(arr)):
            raise DataError(f"{where} field {name!r} holds NaN or infinite values")
        return arr

    def _stack(self, copies: int) -> tuple:
        """The stacked geometry and context of ``copies`` queries (cached per chunk size)."""
        if copies not in self._stacks:
            if copies == 1:
                stacked, ctx = self.graph, self.context
            else:
                stacked = stack_graph(self.graph, copies)
                ctx = None if self.context is None else self.context.repeat(copies, self._model_nodes)
            self._stacks = {copies: (stacked, ctx), **{k: v for k, v in self._stacks.items() if k == 1}}
        return self._stacks[copies]

    def _query_fields(self, queries: Sequence[Mapping[str, ArrayLike]], first: int) -> Dict[str, np.ndarray]:
        """The queries' fields stacked node-wise (``Q N`` rows each); ``first`` numbers the queries in errors."""
        names = set(self.fixed)
        for q in queries:
            names |= set(q)
        stacked = {}
        for name in sorted(names):
            parts = []
            for i, q in enumerate(queries, start=first):
                if name in q:
                    parts.append(self._node_array(name, q[name], where=f"query {i}:"))
                elif name in self.fixed:
                    parts.append(self.fixed[name])
                else:
                    raise DataError(f"query {i} has no field {name!r}, which other queries give (and the session has "
                                    "no fixed value for it): every query must give the same fields")
            if self.coarsening is not None:
                parts = [self.coarsening.restrict(p) for p in parts]
            stacked[name] = np.concatenate(parts) if len(parts) > 1 else parts[0]
        return stacked

    def _run_chunk(self, queries: Sequence[Mapping[str, ArrayLike]], first: int = 0) -> torch.Tensor:
        copies = len(queries)
        stacked, ctx = self._stack(copies)
        data = stacked.clone() if copies == 1 else Data(**{k: v for k, v in stacked.items()})
        data = with_fields(data, self._query_fields(queries, first))
        if self.device.type != "cpu":
            data = data.to(self.device)
        if self.normalizer is not None:
            data = self.normalizer(data)
        out = self._forward(data, ctx) if ctx is not None else self._forward(data)
        out = out.cpu()
        if self.normalizer is not None:
            out = self.normalizer.inverse_y(out)
        out = out.reshape(copies, self._model_nodes, -1)
        if self.coarsening is not None:
            out = torch.from_numpy(np.moveaxis(self.coarsening.prolong(np.moveaxis(out.numpy(), 0, 1)), 1, 0).copy())
        return out

    def predict(self, queries: Sequence[Mapping[str, ArrayLike]]) -> np.ndarray:
        """Evaluate many queries on the session's mesh.

        Parameters
        ----------
        queries : sequence of dict
            Each maps field names to node values ``(N,)`` / ``(N, c)``
            (scalars broadcast), all with the same names, e.g. ``f`` and
            ``g`` (missing ones come from the session's ``fixed``).

        Returns
        -------
        ndarray, shape (Q, N, C), float32
            The model's prediction for every query, in physical units.

        Raises
        ------
        DataError
            A query field of the wrong length, with NaN / infinite values, or
            missing while other queries give it (the message names the query,
            counted from 0).
        """
        if isinstance(queries, Mapping):
            raise ConfigError("predict takes a list of queries; use predict_one for a single one")
        queries = list(queries)
        if not queries:
            self.seconds = np.zeros(0)
            return np.zeros((0, self.num_nodes, 0), dtype=np.float32)
        per_chunk = 1 if self.loop_reason else max(1, self.max_batch_nodes // max(1, self._model_nodes))
        outs: List[np.ndarray] = []
        seconds = np.zeros(len(queries))
        with torch_threads(self.threads), torch.inference_mode():
            for lo in range(0, len(queries), per_chunk):
                start = time.perf_counter()
                outs.append(self._run_chunk(queries[lo : lo + per_chunk], first=lo).numpy())
                seconds[lo : lo + per_chunk] = (time.perf_counter() - start) / len(outs[-1])
        self.seconds = seconds
        return np.concatenate(outs, axis=0)

    def predict_one(self, query: Mapping[str, ArrayLike]) -> np.ndarray:
        """Evaluate one query: ``(N, C)`` float32 (see :meth:`predict`)."""
        return self.predict([query])[0]
