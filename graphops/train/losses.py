"""Training losses over batches of graphs."""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch_geometric.utils import scatter

from ..errors import ConfigError

LossFn = Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


def _as_2d(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1)


def _batch_vector(pred: torch.Tensor, batch: Optional[torch.Tensor]) -> torch.Tensor:
    if batch is None:
        return torch.zeros(pred.shape[0], dtype=torch.long, device=pred.device)
    return batch


def per_graph_squared_norms(
    pred: torch.Tensor, target: torch.Tensor, batch: Optional[torch.Tensor]
) -> "tuple[torch.Tensor, torch.Tensor]":
    """Squared L2 norms per graph of the error and of the target.

    Parameters
    ----------
    pred, target : Tensor, shape (N,) or (N, C)
        Node values of all graphs in the batch.
    batch : LongTensor, shape (N,), optional
        Graph index of every node (``None``: one graph).

    Returns
    -------
    err2, ref2 : Tensor, shape (G,)
        ``sum ||pred - target||^2`` and ``sum ||target||^2`` over each graph's nodes.
    """
    if pred.shape[0] != target.shape[0] or pred.numel() != target.numel():
        raise ValueError(f"prediction shape {tuple(pred.shape)} does not match target shape {tuple(target.shape)}")
    pred, target = _as_2d(pred), _as_2d(target).to(pred.dtype)
    index = _batch_vector(pred, batch)
    size = int(index.max()) + 1 if index.numel() else 0
    err2 = scatter(((pred - target) ** 2).sum(1), index, dim=0, dim_size=size, reduce="sum")
    ref2 = scatter((target**2).sum(1), index, dim=0, dim_size=size, reduce="sum")
    return err2, ref2


def relative_l2_loss(
    pred: torch.Tensor, target: torch.Tensor, batch: Optional[torch.Tensor] = None, eps: float = 1e-12
) -> torch.Tensor:
    """Mean over graphs of ``||pred - target||_2 / ||target||_2``.

    Parameters
    ----------
    pred, target : Tensor, shape (N,) or (N, C)
    batch : LongTensor, shape (N,), optional
        Graph index of every node.
    eps : float
        Floor of the target norm (a graph whose target is zero contributes its absolute error / sqrt(eps)).

    Returns
    -------
    Tensor, shape ()
    """
    err2, ref2 = per_graph_squared_norms(pred, target, batch)
    return (torch.sqrt(err2 + eps * eps) / torch.sqrt(ref2).clamp_min(eps)).mean()


def mse_loss(pred: torch.Tensor, target: torch.Tensor, batch: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean squared error over all nodes and channels (``batch`` is ignored).

    Returns
    -------
    Tensor, shape ()
    """
    return torch.mean((_as_2d(pred) - _as_2d(target).to(pred.dtype)) ** 2)


LOSSES = {"rel_l2": relative_l2_loss, "mse": mse_loss}


def get_loss(name: str) -> LossFn:
    """The loss function called ``name`` (``rel_l2`` or ``mse``)."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ConfigError(f"train.loss: unknown loss {name!r} (choose from {', '.join(LOSSES)})") from None
