"""GNO baseline: graph kernel network (Li et al., 2020, "Neural Operator: Graph
Kernel Network for Partial Differential Equations").

The node features ``a`` are lifted to ``v`` of width ``h``, then ``iterations``
times

    v_i <- act( W v_i + mean_j kappa(x_i, x_j, a_i, a_j) v_j )

over the graph's edges, where the kernel ``kappa`` is an MLP producing an
``h x h`` matrix per edge (shared by all iterations, so computed once per
forward), and finally projected to the output. Memory is ``O(E h^2)``: keep
``hidden`` small.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .features import check_channels, check_inputs, node_feature_size, node_field, node_features
from .layers import aggregate, check_choice, check_positive, mlp
from .registry import register_model


@register_model("gno")
class GNO(nn.Module):
    """Graph kernel network.

    Parameters
    ----------
    dim : int
        Spatial dimension of the meshes (2 or 3).
    hidden : int
        Width ``h`` of the iterated node state (the kernel is ``h x h`` per edge,
        so time and memory grow as ``E h^2``; 16 keeps a batch of 8 graphs of
        1.5k nodes near a second per training step on 2 CPU cores).
    iterations : int
        Kernel integration steps ``T``.
    kernel_hidden : int
        Width of the kernel MLP.
    kernel_layers : int
        Linear layers of the kernel MLP.
    out_channels : int
    in_channels, boundary_channels : int
        Channels of the input fields ``f`` and boundary values ``g`` (1 for
        the built-in problems; an imported dataset's manifest gives them).
    """

    task = "fields"  # what it learns: see graphops.tasks

    def __init__(
        self,
        dim: int = 2,
        hidden: int = 16,
        iterations: int = 4,
        kernel_hidden: int = 64,
        kernel_layers: int = 3,
        out_channels: int = 1,
        in_channels: int = 1,
        boundary_channels: int = 1,
    ) -> None:
        super().__init__()
        check_choice("gno", "dim", dim, (2, 3))
        check_positive(
            "gno", hidden=hidden, iterations=iterations, kernel_hidden=kernel_hidden,
            kernel_layers=kernel_layers, out_channels=out_channels,
        )
        self.dim = dim
        self.hidden = hidden
        self.iterations = iterations
        self.channels = check_channels("gno", in_channels, boundary_channels)
        a = node_feature_size(dim, True, in_channels, boundary_channels)
        self.lift = nn.Linear(a, hidden)
        # kernel input: features of both ends (they include the positions) + relative position and length
        self.kernel = mlp(2 * a + dim + 1, kernel_hidden, hidden * hidden, kernel_layers, layer_norm=False)
        self.weight = nn.Linear(hidden, hidden)
        self.act = nn.GELU()
        self.project = mlp(hidden, kernel_hidden, out_channels, 2, layer_norm=False)

    def forward(self, data) -> Tensor:
        """Predict the solution at every node.

        Parameters
        ----------
        data : Data or Batch
            With the fields of :data:`graphops.models.features.INPUT_FIELDS`.

        Returns
        -------
        Tensor, shape (N, out_channels)
        """
        check_inputs(data, self.dim, "gno", channels=self.channels)
        a = node_features(data, node_field(data, "f"), node_field(data, "g"))
        src, dst = data.edge_index[0], data.edge_index[1]
        h = self.hidden
        k_in = torch.cat([a[dst], a[src], data.edge_attr.to(a.dtype)], dim=1)
        kernel = self.kernel(k_in).reshape(-1, h, h) / math.sqrt(h)  # (E, h, h)
        v = self.lift(a)
        for t in range(self.iterations):
            msg = torch.bmm(kernel, v[src].unsqueeze(-1)).squeeze(-1)  # (E, h)
            v = self.weight(v) + aggregate(msg, dst, v.shape[0], "mean")
            if t < self.iterations - 1:
                v = self.act(v)
        return self.project(v)
