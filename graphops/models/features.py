"""Assembling model inputs from a graph: field checks, node features, boundary tokens.

Every model reads the same fields of a ``Data`` / ``Batch`` (see
:data:`INPUT_FIELDS`): the graph built by :func:`graphops.graph.mesh_to_graph`
plus the problem fields ``f`` (source), ``g`` (boundary value: Dirichlet value or
Neumann flux, 0 inside) and ``bc_dirichlet`` (Dirichlet flag).

``f`` and ``g`` may have several channels, ``(N, C_in)`` and ``(N, C_g)``
(imported datasets put every named input field and scalar in ``f``, a vector
boundary field in ``g``; see :mod:`graphops.data.imported`); a model built with
``in_channels`` / ``boundary_channels`` checks that the data has that many.
The built-in problems have one channel each, stored as ``(N,)``.
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional, Tuple

import torch
from torch import Tensor

from ..errors import DataError

#: Fields every graphops PDE model reads.
INPUT_FIELDS: Tuple[str, ...] = (
    "pos",
    "edge_index",
    "edge_attr",
    "boundary_mask",
    "boundary_normal",
    "boundary_distance",
    "boundary_direction",
    "f",
    "g",
    "bc_dirichlet",
)


def node_feature_size(dim: int, with_g: bool, in_channels: int = 1, boundary_channels: int = 1) -> int:
    """Width of :func:`node_features`: pos, f (C_in), [g (C_g)], flag, distance, direction, Dirichlet flag."""
    return 2 * dim + 3 + in_channels + (boundary_channels if with_g else 0)


def check_channels(model: str, in_channels: int, boundary_channels: int) -> Dict[str, int]:
    """Validate a model's ``in_channels`` (>= 0) and ``boundary_channels`` (>= 1); return them as the
    ``channels`` argument of :func:`check_inputs`."""
    from ..errors import ConfigError

    for key, value, low in (("in_channels", in_channels, 0), ("boundary_channels", boundary_channels, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"model {model!r}: {key} must be an integer >= {low}, got {value!r}")
    return {"f": in_channels, "g": boundary_channels}


def token_size(dim: int, boundary_channels: int = 1) -> int:
    """Width of a boundary token: position, value g (C_g), normal, Dirichlet flag."""
    return 2 * dim + 1 + boundary_channels


def check_inputs(data, dim: int, model: str, fields: Iterable[str] = INPUT_FIELDS,
                 channels: Optional[Dict[str, int]] = None) -> None:
    """Check that the graph carries every field with the shape a ``dim``-D model expects.

    Parameters
    ----------
    data : Data or Batch
    dim : int
        Spatial dimension the model was built for.
    model : str
        Model name, for the messages.
    fields : iterable of str
        Fields to require.
    channels : dict of str to int, optional
        Channels per node of multi-channel fields (e.g. ``{"f": 3, "g": 1}``);
        the others must have one value per node.

    Raises
    ------
    DataError
        A field is missing, the points are not ``dim``-D, or a field has the
        wrong number of rows or columns.
    """
    fields = list(fields)
    missing = [name for name in fields if getattr(data, name, None) is None]
    if missing:
        raise DataError(
            f"model {model!r} needs the graph field(s) {', '.join(missing)}, which the input lacks "
            "(build the graph with graphops.graph.mesh_to_graph and add f, g, bc_dirichlet)"
        )
    pos = data.pos
    if pos.dim() != 2:
        raise DataError(f"model {model!r}: pos must have shape (N, {dim}), got {tuple(pos.shape)}")
    if pos.shape[1] != dim:
        raise DataError(f"model {model!r} was built for {dim}D meshes, got {pos.shape[1]}D points")
    n = pos.shape[0]
    vectors = {"boundary_normal": dim, "boundary_direction": dim}
    for name in fields:
        if name in ("pos", "edge_index", "edge_attr"):
            continue
        t = getattr(data, name)
        if channels and name in channels:
            width = t.shape[1] if t.dim() == 2 else (1 if t.dim() == 1 else -1)
            if t.shape[0] != n or width != channels[name]:
                count = "one value" if channels[name] == 1 else f"{channels[name]} values"
                raise DataError(
                    f"model {model!r}: {name} must have {count} per node (shape ({n}, {channels[name]})), got shape "
                    f"{tuple(t.shape)} (other input fields than the model was built for?)"
                )
        elif name in vectors:
            if tuple(t.shape) != (n, dim):
                raise DataError(f"model {model!r}: {name} must have shape ({n}, {dim}), got {tuple(t.shape)}")
        elif t.numel() != n or t.shape[0] != n:
            raise DataError(f"model {model!r}: {name} must have one value per node ({n}), got shape {tuple(t.shape)}")
    if "edge_index" in fields:
        ei = data.edge_index
        if ei.dim() != 2 or ei.shape[0] != 2:
            raise DataError(f"model {model!r}: edge_index must have shape (2, E), got {tuple(ei.shape)}")
        if "edge_attr" in fields and tuple(data.edge_attr.shape) != (ei.shape[1], dim + 1):
            raise DataError(
                f"model {model!r}: edge_attr must have shape ({ei.shape[1]}, {dim + 1}) "
                f"(relative position and length), got {tuple(data.edge_attr.shape)}"
            )


def node_field(data, name: str, like: Optional[Tensor] = None) -> Tensor:
    """A per-node field as float columns: (N,) -> (N, 1), (N, C) stays.

    Parameters
    ----------
    data : Data or Batch
    name : str
    like : Tensor, optional
        Take dtype and device from it (default: ``data.pos``).

    Returns
    -------
    Tensor, shape (N, C)
    """
    ref = data.pos if like is None else like
    value = getattr(data, name)
    return value.reshape(value.shape[0], -1).to(dtype=ref.dtype, device=ref.device)


def graph_index(data) -> Tuple[Tensor, int]:
    """Graph id of every node and the number of graphs (1 for a plain ``Data``).

    Returns
    -------
    batch : Tensor, shape (N,), int64
    num_graphs : int
    """
    batch = getattr(data, "batch", None)
    if batch is None:
        return torch.zeros(data.pos.shape[0], dtype=torch.long, device=data.pos.device), 1
    num_graphs = getattr(data, "num_graphs", None)
    if num_graphs is None:
        num_graphs = int(batch.max()) + 1 if batch.numel() else 1
    return batch, int(num_graphs)


def node_features(data, f: Tensor, g: Optional[Tensor] = None) -> Tensor:
    """Node input features.

    Parameters
    ----------
    data : Data or Batch
        Checked with :func:`check_inputs`.
    f : Tensor, shape (N, C_in)
        Source term / input fields to use (BENO passes zeros to its boundary branch).
    g : Tensor, shape (N, C_g), optional
        Boundary values; left out of the features when None.

    Returns
    -------
    Tensor, shape (N, 2 d + 3 + C_in) or (N, 2 d + 3 + C_in + C_g) with g
        ``[pos, f, (g), boundary flag, boundary distance, direction to the
        boundary, Dirichlet flag]``.
    """
    pos = data.pos
    parts = [pos, f] + ([] if g is None else [g])
    parts += [
        node_field(data, "boundary_mask"),
        node_field(data, "boundary_distance"),
        data.boundary_direction.to(pos.dtype),
        node_field(data, "bc_dirichlet"),
    ]
    return torch.cat(parts, dim=1)


def boundary_token_slots(data, max_tokens: int, everywhere: bool = False) -> Tuple[Tensor, Tensor, Tensor, int]:
    """Which boundary nodes become tokens, and where they go in a padded (B, T) layout.

    A graph with more than ``max_tokens`` boundary nodes keeps ``max_tokens``
    of them, evenly spaced by node index (deterministic).

    Parameters
    ----------
    data : Data or Batch
    max_tokens : int
    everywhere : bool
        Choose among all the nodes of each graph, not only its boundary nodes
        (BENO's source tokens).

    Returns
    -------
    nodes : Tensor, shape (M,), int64
        Node indices of the tokens.
    graph : Tensor, shape (M,), int64
        Graph of each token.
    slot : Tensor, shape (M,), int64
        Position of each token in its graph's sequence.
    length : int
        Sequence length T (at least 1).
    """
    batch, num_graphs = graph_index(data)
    if everywhere:
        nodes = torch.arange(batch.numel(), device=batch.device)
    else:
        nodes = torch.nonzero(data.boundary_mask.reshape(-1).bool(), as_tuple=False).reshape(-1)
    graph = batch[nodes]
    order = torch.argsort(graph, stable=True)  # graphs of a Batch are contiguous already; be safe
    nodes, graph = nodes[order], graph[order]
    counts = torch.bincount(graph, minlength=num_graphs)
    start = torch.cumsum(counts, 0) - counts
    rank = torch.arange(nodes.numel(), device=nodes.device) - start[graph]
    c = counts[graph]
    # keep ranks floor(k * c / T) for k < T: rank r is kept as slot k = ceil(r T / c)
    k = (rank * max_tokens + c - 1) // c.clamp(min=1)
    keep = (c <= max_tokens) | ((k < max_tokens) & ((k * c) // max_tokens == rank))
    slot = torch.where(c <= max_tokens, rank, k)
    nodes, graph, slot = nodes[keep], graph[keep], slot[keep]
    length = int(min(max(int(counts.max()) if counts.numel() else 0, 1), max_tokens))
    return nodes, graph, slot, length


def boundary_tokens(data, g: Tensor, max_tokens: int, slots: Optional[Tuple[Tensor, Tensor, Tensor, int]] = None) -> Tuple[Tensor, Tensor]:
    """Padded boundary-node tokens, one sequence per graph.

    Parameters
    ----------
    data : Data or Batch
    g : Tensor, shape (N, C_g)
        Boundary values to put in the tokens (BENO's interior branch passes zeros).
    max_tokens : int
        Cap on tokens per graph (see :func:`boundary_token_slots`).
    slots : tuple, optional
        Token choice ``(nodes, graph, slot, length)`` as returned by
        :func:`boundary_token_slots` (default: that function's even choice).

    Returns
    -------
    tokens : Tensor, shape (B, T, 2 d + 1 + C_g)
        ``[position, g, outward normal, Dirichlet flag]``, zeros at padding.
    padding : Tensor, shape (B, T), bool
        True at padded positions (a graph without boundary nodes is all padding).
    """
    _, num_graphs = graph_index(data)
    nodes, graph, slot, length = boundary_token_slots(data, max_tokens) if slots is None else slots
    pos = data.pos
    feats = torch.cat(
        [
            pos[nodes],
            g[nodes],
            data.boundary_normal[nodes].to(pos.dtype),
            node_field(data, "bc_dirichlet")[nodes],
        ],
        dim=1,
    )
    tokens = pos.new_zeros(num_graphs, length, feats.shape[1])
    tokens[graph, slot] = feats
    padding = torch.ones(num_graphs, length, dtype=torch.bool, device=pos.device)
    padding[graph, slot] = False
    return tokens, padding
