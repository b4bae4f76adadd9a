"""Small real datasets and run configs for the training tests.

Each sample is the graph of a Delaunay triangulation of random points in the
unit square (boundary = convex hull, through graphops.graph.mesh_to_graph) with
an exact Poisson solution u = a x + b y + c + d (x^2 + y^2): f = -4 d,
g = u on boundary nodes (Dirichlet), target y = u.

Importable by name so that processes spawned by the DDP tests find it too.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List

import numpy as np
import torch
from scipy.spatial import Delaunay
from torch_geometric.data import Data

from graphops.graph import mesh_to_graph
from graphops.mesh import Mesh

#: A small, fast BENO for the tests.
TINY_MODEL = {"name": "beno", "hidden": 8, "layers": 1, "mlp_layers": 1, "boundary_layers": 1,
              "max_boundary_tokens": 16}


def poisson_sample(seed: int, n_points: int = 40, family: int = 0) -> Data:
    """One graph with fields pos, edge_index, edge_attr, boundary_*, f, g, bc_dirichlet, y (N, 1), family, sample_id."""
    rng = np.random.default_rng(seed)
    pts = rng.random((n_points, 2))
    tri = Delaunay(pts)
    mesh = Mesh(points=pts, cells={"triangle": tri.simplices.astype(np.int64)})
    data = mesh_to_graph(mesh)
    a, b, c, d = rng.normal(size=4)
    x, y = pts[:, 0], pts[:, 1]
    u = torch.from_numpy(a * x + b * y + c + d * (x**2 + y**2)).float()
    mask = data.boundary_mask
    data.f = torch.full((len(pts),), float(-4.0 * d))
    data.g = torch.where(mask, u, torch.zeros_like(u))
    data.bc_dirichlet = mask.clone()
    data.y = u.reshape(-1, 1)
    data.family = family
    data.sample_id = seed
    return data


def poisson_dataset(count: int, first_seed: int = 0, n_points: int = 40, families=(0,)) -> List[Data]:
    """``count`` samples, families assigned round-robin."""
    return [poisson_sample(first_seed + i, n_points, families[i % len(families)]) for i in range(count)]


def run_config(out, **train: Any) -> Dict[str, Any]:
    """A complete run config for in-memory data (data.root is not opened by Trainer)."""
    cfg = {
        "data": {"root": "unused", "train_families": [0], "val_fraction": 0.25},
        "model": copy.deepcopy(TINY_MODEL),
        "train": {"epochs": 2, "batch_size": 4, "lr": 3e-3, "weight_decay": 1e-4, "scheduler": "cosine",
                  "patience": 10, "seed": 0, "device": "cpu", "loss": "rel_l2"},
        "out": str(out),
    }
    cfg["train"].update(train)
    return cfg


def state_close(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> float:
    """Largest absolute difference between two state dicts with the same keys.

    The key third of an attention layer's input bias (``in_proj_bias[h:2h]``) is
    left out: softmax ignores it, so its true gradient is exactly zero and AdamW
    turns float round-off (which differs between processes, thread layouts and
    DDP reductions) into learning-rate-sized steps that change no output.
    The key bias of BENO's boundary cross-attention (``...cross.<i>.key.bias``)
    is left out for the same reason.
    """
    assert set(a) == set(b)
    worst = 0.0
    for key in a:
        x, y = a[key].float(), b[key].float()
        if key.endswith("in_proj_bias"):
            h = x.numel() // 3
            x, y = torch.cat([x[:h], x[2 * h:]]), torch.cat([y[:h], y[2 * h:]])
        if ".cross." in key and key.endswith(".key.bias"):
            continue
        if x.numel():
            worst = max(worst, float((x - y).abs().max()))
    return worst


def ddp_worker(config: Dict[str, Any], n_train: int, n_val: int, state_dir: str) -> None:
    """Body of each DDP test process: train on the same in-memory data as the single-process run,
    then save this rank's final weights to ``state_dir/rank<R>.pt`` so the test can compare ranks."""
    import os

    from graphops.train import Trainer

    data = poisson_dataset(n_train + n_val)
    trainer = Trainer(config, data[:n_train], data[n_train:], progress=False)
    trainer.fit()
    torch.save(trainer.model.state_dict(), os.path.join(state_dir, f"rank{os.environ['RANK']}.pt"))
