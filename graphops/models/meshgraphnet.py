"""MeshGraphNet baseline (Pfaff et al., ICLR 2021) for steady PDE fields.

Encode-process-decode message passing with edge-feature updates, residuals and
LayerNorm. The node input carries the same information as BENO's two branches
together (position, f, g, boundary flag, distance and direction to the
boundary, Dirichlet flag), without the split or the boundary Transformer.
"""
from __future__ import annotations

from torch import Tensor, nn

from .features import check_channels, check_inputs, node_feature_size, node_field, node_features
from .layers import AGGREGATIONS, EncodeProcessDecode, check_choice, check_positive
from .registry import register_model


@register_model("meshgraphnet")
class MeshGraphNet(nn.Module):
    """Encode-process-decode graph network.

    Parameters
    ----------
    dim : int
        Spatial dimension of the meshes (2 or 3).
    hidden : int
        Latent width.
    layers : int
        Message-passing layers.
    out_channels : int
    mlp_layers : int
        Linear layers per MLP.
    aggr : {"sum", "mean"}
        Neighbour aggregation (MeshGraphNet uses sum).
    in_channels, boundary_channels : int
        Channels of the input fields ``f`` and boundary values ``g`` (1 for
        the built-in problems; an imported dataset's manifest gives them).
    """

    task = "fields"  # what it learns: see graphops.tasks

    def __init__(
        self,
        dim: int = 2,
        hidden: int = 32,
        layers: int = 6,
        out_channels: int = 1,
        mlp_layers: int = 2,
        aggr: str = "sum",
        in_channels: int = 1,
        boundary_channels: int = 1,
    ) -> None:
        super().__init__()
        check_choice("meshgraphnet", "dim", dim, (2, 3))
        check_choice("meshgraphnet", "aggr", aggr, AGGREGATIONS)
        check_positive("meshgraphnet", hidden=hidden, layers=layers, out_channels=out_channels, mlp_layers=mlp_layers)
        self.dim = dim
        self.channels = check_channels("meshgraphnet", in_channels, boundary_channels)
        self.net = EncodeProcessDecode(
            node_feature_size(dim, True, in_channels, boundary_channels), dim + 1, hidden, layers, out_channels,
            aggr=aggr, mlp_layers=mlp_layers,
        )

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
        check_inputs(data, self.dim, "meshgraphnet", channels=self.channels)
        x = node_features(data, node_field(data, "f"), node_field(data, "g"))
        return self.net(x, data.edge_attr.to(x.dtype), data.edge_index)
