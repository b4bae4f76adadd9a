"""PyG ``BaseTransform`` versions of the graph builders, for ``Data`` objects with ``pos``."""
from __future__ import annotations

from typing import Optional

import torch
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from .edges import edge_features
from .neighbours import knn_graph, radius_graph


class KNNGraph(BaseTransform):
    """Set ``edge_index`` to the k-nearest-neighbour graph of ``data.pos`` (KD-tree, no pyg-lib).

    Parameters
    ----------
    k : int
        Neighbours per node.
    loop : bool
        Keep self loops.
    """

    def __init__(self, k: int = 8, loop: bool = False) -> None:
        self.k = k
        self.loop = loop

    def forward(self, data: Data) -> Data:
        data.edge_index = knn_graph(data.pos, self.k, loop=self.loop)
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.k})"


class RadiusGraph(BaseTransform):
    """Set ``edge_index`` to all pairs of nodes closer than ``r`` (KD-tree, no pyg-lib).

    Parameters
    ----------
    r : float
    max_num_neighbors : int, optional
        Keep only the nearest this many neighbours per node.
    """

    def __init__(self, r: float, max_num_neighbors: Optional[int] = None, loop: bool = False) -> None:
        self.r = r
        self.max_num_neighbors = max_num_neighbors
        self.loop = loop

    def forward(self, data: Data) -> Data:
        data.edge_index = radius_graph(data.pos, self.r, loop=self.loop, max_num_neighbors=self.max_num_neighbors)
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(r={self.r})"


class EdgeFeatures(BaseTransform):
    """Set ``edge_attr`` (E, d + 1) to the relative position ``pos[src] - pos[dst]`` and its length."""

    def forward(self, data: Data) -> Data:
        pos = data.pos.detach().cpu().double().numpy()
        data.edge_attr = torch.from_numpy(edge_features(pos, data.edge_index.cpu().numpy())).float()
        return data
