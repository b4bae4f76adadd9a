"""Error metrics per graph and their aggregation over a dataset, per family."""
from __future__ import annotations

import math
from typing import Dict, Iterable, List, Optional

import torch
from torch_geometric.utils import scatter

from .losses import per_graph_squared_norms


def relative_l2_per_graph(
    pred: torch.Tensor, target: torch.Tensor, batch: Optional[torch.Tensor] = None, eps: float = 1e-12
) -> torch.Tensor:
    """``||pred - target||_2 / ||target||_2`` of every graph.

    Parameters
    ----------
    pred, target : Tensor, shape (N,) or (N, C)
    batch : LongTensor, shape (N,), optional
        Graph index of every node (``None``: one graph).

    Returns
    -------
    Tensor, shape (G,)
    """
    err2, ref2 = per_graph_squared_norms(pred, target, batch)
    return torch.sqrt(err2) / torch.sqrt(ref2).clamp_min(eps)


def mae_per_graph(pred: torch.Tensor, target: torch.Tensor, batch: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean absolute error over each graph's nodes and channels.

    Returns
    -------
    Tensor, shape (G,)
    """
    pred = pred.reshape(pred.shape[0], -1)
    target = target.reshape(target.shape[0], -1).to(pred.dtype)
    index = batch if batch is not None else torch.zeros(pred.shape[0], dtype=torch.long, device=pred.device)
    size = int(index.max()) + 1 if index.numel() else 0
    return scatter((pred - target).abs().mean(1), index, dim=0, dim_size=size, reduce="mean")


class MetricAccumulator:
    """Collect per-graph relative L2 and MAE, then average overall and per family.

    Examples
    --------
    >>> acc = MetricAccumulator()
    >>> acc.add(pred, target, batch.batch, families=batch.family)   # doctest: +SKIP
    >>> acc.summary()["overall"]["rel_l2"]                          # doctest: +SKIP
    """

    def __init__(self) -> None:
        self.rel_l2: List[float] = []
        self.mae: List[float] = []
        self.family: List[Optional[int]] = []

    def add(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        batch: Optional[torch.Tensor] = None,
        families: Optional[Iterable] = None,
    ) -> "tuple[torch.Tensor, torch.Tensor]":
        """Add the graphs of one batch; returns their (rel_l2 (G,), mae (G,))."""
        with torch.no_grad():
            rel = relative_l2_per_graph(pred, target, batch).double().cpu()
            mae = mae_per_graph(pred, target, batch).double().cpu()
        self.rel_l2.extend(rel.tolist())
        self.mae.extend(mae.tolist())
        if families is None:
            fam = [None] * rel.numel()
        else:
            fam = families.reshape(-1).tolist() if isinstance(families, torch.Tensor) else list(families)
            fam = [None if f is None else int(f) for f in fam]
            if len(fam) != rel.numel():
                raise ValueError(f"{len(fam)} family labels for {rel.numel()} graphs")
        self.family.extend(fam)
        return rel, mae

    def __len__(self) -> int:
        return len(self.rel_l2)

    def sums(self) -> torch.Tensor:
        """``[sum rel_l2, sum mae, count]`` as a float64 tensor (for all-reduce across processes)."""
        return torch.tensor([sum(self.rel_l2), sum(self.mae), float(len(self.rel_l2))], dtype=torch.float64)

    @staticmethod
    def _stats(rel: List[float], mae: List[float]) -> Dict[str, float]:
        n = len(rel)
        if n == 0:
            return {"samples": 0, "rel_l2": math.nan, "rel_l2_std": math.nan, "mae": math.nan}
        mean = sum(rel) / n
        var = sum((r - mean) ** 2 for r in rel) / n
        return {"samples": n, "rel_l2": mean, "rel_l2_std": math.sqrt(var), "mae": sum(mae) / n}

    def summary(self) -> Dict[str, Dict]:
        """``{"overall": stats, "families": {family: stats}}`` with stats = samples, rel_l2, rel_l2_std, mae."""
        families: Dict[str, Dict[str, float]] = {}
        for fam in sorted({f for f in self.family if f is not None}):
            idx = [i for i, f in enumerate(self.family) if f == fam]
            families[str(fam)] = self._stats([self.rel_l2[i] for i in idx], [self.mae[i] for i in idx])
        return {"overall": self._stats(self.rel_l2, self.mae), "families": families}
