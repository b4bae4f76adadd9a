"""NUNO domain decomposition: K-D tree split of a point cloud, per-subdomain grids, interpolation.

>>> dec = kdtree_decompose(points, 16, overlap=0.1)            # points (N, d)
>>> grids = decomposition_grids(dec, oversampling=1.0, common_shape=True)
>>> on_grid = scatter_to_subdomains(points, values, dec, grids, stack=True)  # (S, *shape, c)
>>> back = sample_subdomains(on_grid, grids, dec.labels, points)             # (N, c)
"""
from .grids import GridSpec, decomposition_grids, grid_shape, make_grids
from .interpolate import (
    GridScatter,
    build_scatters,
    sample_grid,
    sample_grid_torch,
    sample_subdomains,
    sample_subdomains_torch,
    sample_weights,
    scatter_to_grid,
    scatter_to_subdomains,
    subdomain_sample_weights,
)
from .kdtree import Decomposition, DecompositionWarning, default_bins, kdtree_decompose, kl_to_uniform

__all__ = [
    "Decomposition",
    "DecompositionWarning",
    "GridScatter",
    "GridSpec",
    "build_scatters",
    "decomposition_grids",
    "default_bins",
    "grid_shape",
    "kdtree_decompose",
    "kl_to_uniform",
    "make_grids",
    "sample_grid",
    "sample_grid_torch",
    "sample_subdomains",
    "sample_subdomains_torch",
    "sample_weights",
    "scatter_to_grid",
    "scatter_to_subdomains",
    "subdomain_sample_weights",
]
