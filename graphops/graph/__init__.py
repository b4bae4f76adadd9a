"""Meshes and point clouds as ``torch_geometric.data.Data`` graphs."""
from .build import mesh_to_graph, point_cloud_to_graph
from .coarsen import Coarsening, coarsen_graph
from .edges import edge_features, median_edge_length, mesh_edges, merge_edges
from .neighbours import knn_graph, radius_graph, radius_edges_between
from .transforms import EdgeFeatures, KNNGraph, RadiusGraph

__all__ = [
    "mesh_to_graph",
    "point_cloud_to_graph",
    "coarsen_graph",
    "Coarsening",
    "mesh_edges",
    "merge_edges",
    "edge_features",
    "median_edge_length",
    "knn_graph",
    "radius_graph",
    "radius_edges_between",
    "KNNGraph",
    "RadiusGraph",
    "EdgeFeatures",
]
