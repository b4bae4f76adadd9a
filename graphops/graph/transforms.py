"""PyG ``BaseTransform`` versions of the graph builders, for ``Data`` objects with ``pos``.

They behave like the PyG transforms of the same name (``torch_geometric.transforms``),
with the neighbour search done by a chunked scipy KD-tree instead of pyg-lib /
torch-cluster:

- a ``Batch`` (or any ``Data`` with a ``batch`` vector or ``ptr`` offsets) is searched graph
  by graph, so nodes of different graphs are never connected;
- the old ``edge_attr`` is dropped when the edges are replaced (it described the old
  edges), so ``Compose([KNNGraph(6), Distance()])`` works on a mesh graph.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import to_undirected

from .edges import edge_features
from .neighbours import knn_graph, radius_graph


def _graph_index(data: Data) -> Optional[torch.Tensor]:
    """The graph of every node ``(N,)`` from ``batch`` or ``ptr``; ``None`` for a single graph."""
    batch = getattr(data, "batch", None)
    if batch is not None:
        return batch.reshape(-1).long().cpu()
    ptr = getattr(data, "ptr", None)
    if ptr is not None:
        ptr = ptr.long().cpu()
        return torch.repeat_interleave(torch.arange(len(ptr) - 1), ptr[1:] - ptr[:-1])
    return None


def batched_edges(data: Data, build: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Run the neighbour builder ``build(pos) -> (2, E)`` on each graph of ``data`` separately.

    Parameters
    ----------
    data : Data or Batch
        With ``pos`` ``(N, d)`` and, for several graphs, ``batch`` ``(N,)`` or ``ptr`` ``(G + 1,)``.
    build : callable
        Edges of one graph from its positions, in local node numbers.

    Returns
    -------
    LongTensor, shape (2, E)
        Edges in the node numbering of ``data``; never between two graphs.
    """
    pos = data.pos
    graph = _graph_index(data)
    if graph is None or graph.numel() == 0 or int(graph.min()) == int(graph.max()):
        return build(pos).to(pos.device)
    parts = []
    for g in torch.unique(graph):
        nodes = torch.nonzero(graph == g).flatten()
        parts.append(nodes[build(pos[nodes.to(pos.device)])])
    return torch.cat(parts, dim=1).to(pos.device)


class KNNGraph(BaseTransform):
    """Set ``edge_index`` to the k-nearest-neighbour graph of ``data.pos`` (KD-tree, no pyg-lib).

    Parameters
    ----------
    k : int
        Neighbours per node (PyG's default, 6).
    loop : bool
        Keep self loops.
    force_undirected : bool
        Add the reverse of every edge.
    """

    def __init__(self, k: int = 6, loop: bool = False, force_undirected: bool = False) -> None:
        self.k = k
        self.loop = loop
        self.force_undirected = force_undirected

    def forward(self, data: Data) -> Data:
        data.edge_attr = None
        edge_index = batched_edges(data, lambda pos: knn_graph(pos, self.k, loop=self.loop))
        if self.force_undirected:
            edge_index = to_undirected(edge_index, num_nodes=data.num_nodes)
        data.edge_index = edge_index
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.k})"


class RadiusGraph(BaseTransform):
    """Set ``edge_index`` to all pairs of nodes closer than ``r`` (KD-tree, no pyg-lib).

    Parameters
    ----------
    r : float
    max_num_neighbors : int, optional
        Keep only the nearest this many neighbours per node (default: all; PyG caps at 32).
    loop : bool
        Keep self loops.
    """

    def __init__(self, r: float, max_num_neighbors: Optional[int] = None, loop: bool = False) -> None:
        self.r = r
        self.max_num_neighbors = max_num_neighbors
        self.loop = loop

    def forward(self, data: Data) -> Data:
        data.edge_attr = None
        data.edge_index = batched_edges(
            data, lambda pos: radius_graph(pos, self.r, loop=self.loop, max_num_neighbors=self.max_num_neighbors)
        )
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(r={self.r})"


class EdgeFeatures(BaseTransform):
    """Set ``edge_attr`` (E, d + 1) to the relative position ``pos[src] - pos[dst]`` and its length."""

    def forward(self, data: Data) -> Data:
        pos = data.pos.detach().cpu().double().numpy()
        data.edge_attr = torch.from_numpy(edge_features(pos, data.edge_index.cpu().numpy())).float().to(data.pos.device)
        return data
