"""Building blocks shared by the graph models: MLPs, aggregation, message passing.

Messages flow along ``edge_index = [source, target]`` and are aggregated at the
target node (PyG's ``source_to_target`` convention).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..errors import ConfigError

AGGREGATIONS = ("mean", "sum")


def check_choice(model: str, key: str, value, choices) -> None:
    """ConfigError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"model {model!r}: {key}={value!r} is not one of {', '.join(map(repr, choices))}")


def check_positive(model: str, **values: int) -> None:
    """ConfigError unless every value is a positive integer."""
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"model {model!r}: {key} must be a positive integer, got {value!r}")


def mlp(in_dim: int, hidden: int, out_dim: int, num_layers: int = 2, layer_norm: bool = True) -> nn.Sequential:
    """A SiLU MLP, optionally followed by LayerNorm on its output.

    Parameters
    ----------
    in_dim, hidden, out_dim : int
    num_layers : int
        Number of Linear layers (>= 1).
    layer_norm : bool
        Append ``LayerNorm(out_dim)`` (encoders and processors; not decoders).

    Returns
    -------
    nn.Sequential mapping (..., in_dim) -> (..., out_dim)
    """
    dims = [in_dim] + [hidden] * (num_layers - 1) + [out_dim]
    layers: list = []
    for i in range(num_layers):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < num_layers - 1:
            layers.append(nn.SiLU())
    if layer_norm:
        layers.append(nn.LayerNorm(out_dim))
    return nn.Sequential(*layers)


def aggregate(messages: Tensor, index: Tensor, num_nodes: int, aggr: str = "mean") -> Tensor:
    """Sum or mean of edge messages at their target nodes.

    Parameters
    ----------
    messages : Tensor, shape (E, ...)
    index : Tensor, shape (E,), int64
        Target node of each message.
    num_nodes : int
    aggr : {"mean", "sum"}
        Nodes without incoming edges get zeros.

    Returns
    -------
    Tensor, shape (num_nodes, ...)
    """
    out = messages.new_zeros((num_nodes,) + tuple(messages.shape[1:]))
    out.index_add_(0, index, messages)
    if aggr == "mean":
        count = torch.bincount(index, minlength=num_nodes).clamp(min=1).to(messages.dtype)
        out = out / count.reshape((-1,) + (1,) * (messages.dim() - 1))
    return out


class MessagePassingBlock(nn.Module):
    """One processor step with edge and node updates and residuals.

    ``e_ij' = e_ij + MLP_e([h_i, h_j, e_ij])``, then
    ``h_i' = h_i + MLP_v([h_i, AGG_j MLP_e(...), c])`` where ``i`` is the target,
    ``j`` the source and ``c`` an optional per-node conditioning vector (BENO's
    boundary encoding). Both MLPs end in LayerNorm.

    Parameters
    ----------
    hidden : int
        Width of node and edge latents.
    cond_dim : int
        Width of the conditioning vector (0: none).
    aggr : {"mean", "sum"}
    mlp_layers : int
    """

    def __init__(self, hidden: int, cond_dim: int = 0, aggr: str = "mean", mlp_layers: int = 2) -> None:
        super().__init__()
        self.aggr = aggr
        self.cond_dim = cond_dim
        self.edge_mlp = mlp(3 * hidden, hidden, hidden, mlp_layers)
        self.node_mlp = mlp(2 * hidden + cond_dim, hidden, hidden, mlp_layers)

    def forward(self, h: Tensor, e: Tensor, edge_index: Tensor, cond: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Update node and edge latents.

        Parameters
        ----------
        h : Tensor, shape (N, hidden)
        e : Tensor, shape (E, hidden)
        edge_index : Tensor, shape (2, E)
        cond : Tensor, shape (N, cond_dim), optional

        Returns
        -------
        h, e : Tensor, shapes (N, hidden) and (E, hidden)
        """
        src, dst = edge_index[0], edge_index[1]
        # The first edge Linear on cat([h_i, h_j, e]) is split into per-node products
        # gathered to the edges: the same map at half the edge-level cost and memory.
        first = self.edge_mlp[0]
        hidden = h.shape[1]
        w = first.weight  # (out, 3 * hidden)
        z = torch.addmm(first.bias, e, w[:, 2 * hidden :].t())
        # per-node products (N, out), gathered with index_select: several times faster on CPU than
        # fancy indexing of a column slice, and no copy of the node products
        to_target = F.linear(h, w[:, :hidden]).index_select(0, dst)
        from_source = F.linear(h, w[:, hidden : 2 * hidden]).index_select(0, src)
        z = z + to_target + from_source
        de = self.edge_mlp[1:](z)
        agg = aggregate(de, dst, h.shape[0], self.aggr)
        parts = [h, agg] + ([cond] if self.cond_dim else [])
        h = h + self.node_mlp(torch.cat(parts, dim=1))
        return h, e + de


class EncodeProcessDecode(nn.Module):
    """Encoder MLPs, ``layers`` message-passing blocks, decoder MLP.

    Parameters
    ----------
    node_in : int
        Width of the node input features.
    edge_in : int
        Width of the edge input features.
    hidden : int
    layers : int
        Number of message-passing blocks.
    out_channels : int
    cond_dim : int
        Width of a per-node conditioning vector fed to every node update (0: none).
    aggr : {"mean", "sum"}
    mlp_layers : int
    """

    def __init__(
        self,
        node_in: int,
        edge_in: int,
        hidden: int,
        layers: int,
        out_channels: int,
        cond_dim: int = 0,
        aggr: str = "mean",
        mlp_layers: int = 2,
    ) -> None:
        super().__init__()
        self.node_encoder = mlp(node_in, hidden, hidden, mlp_layers)
        self.edge_encoder = mlp(edge_in, hidden, hidden, mlp_layers)
        self.processor = nn.ModuleList(
            MessagePassingBlock(hidden, cond_dim, aggr, mlp_layers) for _ in range(layers)
        )
        self.decoder = mlp(hidden, hidden, out_channels, mlp_layers, layer_norm=False)

    def forward(self, x: Tensor, edge_attr: Tensor, edge_index: Tensor, cond: Optional[Tensor] = None) -> Tensor:
        """Predict node outputs.

        Parameters
        ----------
        x : Tensor, shape (N, node_in)
        edge_attr : Tensor, shape (E, edge_in)
        edge_index : Tensor, shape (2, E)
        cond : Tensor, shape (N, cond_dim), optional

        Returns
        -------
        Tensor, shape (N, out_channels)
        """
        h = self.node_encoder(x)
        e = self.edge_encoder(edge_attr)
        for block in self.processor:
            h, e = block(h, e, edge_index, cond)
        return self.decoder(h)
