"""The representation floor of a grid operator: the best any grid values can do at the points.

NU-FNO (:class:`graphops.models.nuno.NUNO`) and the global-grid FNO
(:class:`graphops.models.nuno.GlobalFNO`) predict values on grids and sample them
back at the points of the cloud through a fixed sparse map ``W`` (multilinear
weights, ``(N, nodes)``). Whatever the network learns, its error at the points is
at least ``min_v ||W v - y|| / ||y||``: the *floor*. Comparing the floors of two
grid layouts at the same node budget, before any training, tells whether the
subdomain grids can represent the target better than one uniform grid (the
regime where NU-FNO can win); see docs/models/nuno.md, "When to choose NUNO".
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..errors import DataError


def representation_floor(model, pos, values) -> float:
    """Relative L2 error of the best grid values for one point cloud (damped least squares).

    Parameters
    ----------
    model : NUNO or GlobalFNO
        A grid operator (with ``decomposition="shared"``: already fitted).
    pos : Tensor or ndarray, shape (N, d)
        The points.
    values : Tensor or ndarray, shape (N,)
        The target at the points.

    Returns
    -------
    float
        ``||W v* - y|| / ||y||``; 0 when the grid can interpolate ``y`` exactly.
    """
    import scipy.sparse as sp
    import torch
    from scipy.sparse.linalg import lsqr

    y = np.asarray(values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else values,
                   dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(y))
    if not np.isfinite(y).all() or norm == 0.0:
        raise DataError("representation_floor needs finite, not all-zero target values")
    plan = model.plan(torch.as_tensor(pos, dtype=torch.float32))
    n, k = plan.sample_index.shape
    if n != len(y):
        raise DataError(f"representation_floor: {len(y)} values for {n} points")
    w = sp.csr_matrix((plan.sample_weight.ravel(), (np.repeat(np.arange(n), k), plan.sample_index.ravel())),
                      shape=(n, plan.made * int(np.prod(plan.shape))))
    sol = lsqr(w, y, damp=1e-4, atol=1e-10, btol=1e-10, iter_lim=10000)[0]
    return float(np.linalg.norm(w @ sol - y) / norm)


def mean_representation_floor(model, samples: Iterable) -> float:
    """Mean :func:`representation_floor` over graphs with ``pos`` (N, d) and ``y`` (N, 1)."""
    errs = [representation_floor(model, item.pos, item.y[:, 0]) for item in samples]
    if not errs:
        raise DataError("mean_representation_floor needs at least one sample")
    return float(np.mean(errs))
