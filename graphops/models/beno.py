"""BENO: boundary-embedded neural operator (Wang et al., ICLR 2024).

The solution is split as in a Green's-function representation, ``u = u1 + u2``:

* branch 1 solves for the source with zero boundary values: its nodes see ``f``
  and its boundary encoder sees the boundary tokens with ``g = 0``;
* branch 2 solves the homogeneous problem with the real boundary values: its
  nodes see ``f = 0`` and its boundary encoder sees the real ``g``.

Each branch is an encode-process-decode message-passing network (mean
aggregation, MLP edge and node updates, residuals) over the mesh graph. A
Transformer encoder over the boundary-node tokens (position, value, normal,
Dirichlet flag), mean-pooled to one vector per graph, is concatenated into the
node update of every message-passing layer. The output is the sum of the two
branch decoders.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .features import boundary_tokens, check_inputs, graph_index, node_feature_size, node_field, node_features, token_size
from .layers import AGGREGATIONS, EncodeProcessDecode, check_choice, check_positive
from .registry import register_model


class BoundaryEncoder(nn.Module):
    """Transformer encoder over boundary tokens, pooled to one vector per graph.

    Parameters
    ----------
    token_dim : int
        Width of a token.
    hidden : int
        Model width (divisible by ``heads``) and width of the output vector.
    heads : int
    layers : int
    dropout : float
    """

    def __init__(self, token_dim: int, hidden: int, heads: int = 2, layers: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.embed = nn.Linear(token_dim, hidden)
        layer = nn.TransformerEncoderLayer(
            hidden, heads, dim_feedforward=2 * hidden, dropout=dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(hidden), enable_nested_tensor=False)
        self.out = nn.Linear(hidden, hidden)

    def forward(self, tokens: Tensor, padding: Tensor) -> Tensor:
        """Encode and pool.

        Parameters
        ----------
        tokens : Tensor, shape (B, T, token_dim)
        padding : Tensor, shape (B, T), bool
            True at padded positions; a row of all padding gives the encoding of
            "no boundary" (a zero pooled vector).

        Returns
        -------
        Tensor, shape (B, hidden)
        """
        empty = padding.all(dim=1)
        attend = padding.clone()
        attend[empty, 0] = False  # attention needs one key per row; the pooled vector ignores it
        z = self.encoder(self.embed(tokens), src_key_padding_mask=attend)
        keep = (~padding).unsqueeze(-1).to(z.dtype)
        pooled = (z * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)
        return self.out(pooled)


class BENOBranch(nn.Module):
    """One BENO branch: boundary encoder plus a conditioned encode-process-decode network."""

    def __init__(
        self, dim: int, hidden: int, layers: int, out_channels: int, mlp_layers: int, aggr: str,
        boundary_heads: int, boundary_layers: int, dropout: float,
    ) -> None:
        super().__init__()
        self.boundary = BoundaryEncoder(token_size(dim), hidden, boundary_heads, boundary_layers, dropout)
        self.net = EncodeProcessDecode(
            node_feature_size(dim, with_g=False), dim + 1, hidden, layers, out_channels,
            cond_dim=hidden, aggr=aggr, mlp_layers=mlp_layers,
        )

    def forward(self, data, f: Tensor, g: Tensor, max_tokens: int) -> Tensor:
        """Predict this branch's part of the solution.

        Parameters
        ----------
        data : Data or Batch
        f : Tensor, shape (N, 1)
            Source term seen by the nodes.
        g : Tensor, shape (N, 1)
            Boundary values seen by the boundary encoder.
        max_tokens : int

        Returns
        -------
        Tensor, shape (N, out_channels)
        """
        batch, _ = graph_index(data)
        tokens, padding = boundary_tokens(data, g, max_tokens)
        cond = self.boundary(tokens, padding)[batch]
        x = node_features(data, f)
        return self.net(x, data.edge_attr.to(x.dtype), data.edge_index, cond)


@register_model("beno")
class BENO(nn.Module):
    """Boundary-embedded neural operator for elliptic PDEs on meshes, 2D and 3D.

    Parameters
    ----------
    dim : int
        Spatial dimension of the meshes (2 or 3).
    hidden : int
        Latent width of both branches and of the boundary Transformer.
    layers : int
        Message-passing layers per branch.
    out_channels : int
        Solution components per node.
    mlp_layers : int
        Linear layers per MLP.
    aggr : {"mean", "sum"}
        Neighbour aggregation (BENO uses mean).
    boundary_heads : int
        Attention heads of the boundary Transformer.
    boundary_layers : int
        Transformer encoder layers.
    max_boundary_tokens : int
        Boundary nodes per graph fed to the Transformer; more are subsampled
        evenly by node index.
    dropout : float
        Dropout inside the Transformer.
    """

    def __init__(
        self,
        dim: int = 2,
        hidden: int = 32,
        layers: int = 4,
        out_channels: int = 1,
        mlp_layers: int = 2,
        aggr: str = "mean",
        boundary_heads: int = 2,
        boundary_layers: int = 2,
        max_boundary_tokens: int = 512,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_choice("beno", "dim", dim, (2, 3))
        check_choice("beno", "aggr", aggr, AGGREGATIONS)
        check_positive(
            "beno", hidden=hidden, layers=layers, out_channels=out_channels, mlp_layers=mlp_layers,
            boundary_heads=boundary_heads, boundary_layers=boundary_layers, max_boundary_tokens=max_boundary_tokens,
        )
        if hidden % boundary_heads:
            raise ConfigError(f"model 'beno': hidden={hidden} must be divisible by boundary_heads={boundary_heads}")
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ConfigError(f"model 'beno': dropout must be in [0, 1), got {dropout!r}")
        self.dim = dim
        self.max_boundary_tokens = max_boundary_tokens
        args = (dim, hidden, layers, out_channels, mlp_layers, aggr, boundary_heads, boundary_layers, float(dropout))
        self.branch1 = BENOBranch(*args)
        self.branch2 = BENOBranch(*args)

    def forward_branches(self, data) -> Tuple[Tensor, Tensor]:
        """The two parts of the solution.

        Parameters
        ----------
        data : Data or Batch
            With the fields of :data:`graphops.models.features.INPUT_FIELDS`.

        Returns
        -------
        u1 : Tensor, shape (N, out_channels)
            Source branch (sees f, boundary tokens with g = 0).
        u2 : Tensor, shape (N, out_channels)
            Boundary branch (sees f = 0, boundary tokens with the real g).
        """
        check_inputs(data, self.dim, "beno")
        f = node_field(data, "f")
        g = node_field(data, "g")
        zeros = torch.zeros_like(f)
        u1 = self.branch1(data, f, zeros, self.max_boundary_tokens)
        u2 = self.branch2(data, zeros, g, self.max_boundary_tokens)
        return u1, u2

    def forward(self, data) -> Tensor:
        """Predict the solution at every node.

        Parameters
        ----------
        data : Data or Batch

        Returns
        -------
        Tensor, shape (N, out_channels)
            ``u1 + u2``.
        """
        u1, u2 = self.forward_branches(data)
        return u1 + u2
