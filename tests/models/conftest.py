"""Small real graphs for the model tests (gmsh meshes through graphops.graph.mesh_to_graph)
and shared checks, handed to the tests as fixtures (``from conftest import`` would be
ambiguous next to tests/conftest.py)."""
from __future__ import annotations

import functools
from types import SimpleNamespace

import pytest
import torch

from graphops.gmsh_model import gmsh_session, mesh_from_gmsh_model
from graphops.graph import mesh_to_graph


@functools.lru_cache(maxsize=None)
def _box_graph(dim: int, size: float):
    """Graph of the unit square (dim 2) or cube (dim 3) meshed by gmsh with max element size ``size``."""
    with gmsh_session() as gmsh:
        gmsh.model.add(f"box{dim}_{size}")
        if dim == 2:
            gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
        else:
            gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
        gmsh.model.occ.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMax", size)
        gmsh.model.mesh.generate(dim)
        mesh = mesh_from_gmsh_model()
    return mesh_to_graph(mesh)


def make_problem(dim: int, size: float, seed: int = 0, neumann: bool = True):
    """A graph with random f and g; boundary nodes with x > 0.5 are Neumann when ``neumann``."""
    data = _box_graph(dim, size).clone()
    gen = torch.Generator().manual_seed(seed)
    n = data.num_nodes
    mask = data.boundary_mask
    data.f = torch.randn(n, generator=gen)
    data.g = torch.where(mask, torch.randn(n, generator=gen), torch.zeros(n))
    dirichlet = mask.clone()
    if neumann:
        dirichlet &= data.pos[:, 0] <= 0.5
    data.bc_dirichlet = dirichlet
    return data


def make_harmonic(size: float = 0.15):
    """u = x + y on the unit square: f = 0, Dirichlet g = u on the boundary, target y = u."""
    data = _box_graph(2, size).clone()
    u = data.pos[:, 0] + data.pos[:, 1]
    data.f = torch.zeros(data.num_nodes)
    data.g = torch.where(data.boundary_mask, u, torch.zeros_like(u))
    data.bc_dirichlet = data.boundary_mask.clone()
    data.y = u.reshape(-1, 1)
    return data


@pytest.fixture(autouse=True)
def one_thread():
    """Run each test on one thread: on a busy 2-core machine, two threads on tensors
    this small are several times slower than one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def square():
    """~100-node unit-square graph with random f, g, mixed Dirichlet/Neumann boundary."""
    return make_problem(2, 0.15, seed=0)


@pytest.fixture
def square_fine():
    """~140-node unit-square graph (a different boundary node count than ``square``)."""
    return make_problem(2, 0.12, seed=1)


@pytest.fixture
def cube():
    """Unit-cube tetrahedral graph with random f, g."""
    return make_problem(3, 0.4, seed=2)


@pytest.fixture
def harmonic():
    """The harmonic sample u = x + y for the overfit tests."""
    return make_harmonic()


def relative_l2(pred: torch.Tensor, target: torch.Tensor) -> float:
    return float(torch.linalg.norm(pred - target) / torch.linalg.norm(target))


def overfit(model: torch.nn.Module, data, steps: int, lr: float = 3e-3) -> float:
    """Train ``model`` on the single graph ``data`` with Adam; return the final relative L2."""
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.mean((model(data) - data.y) ** 2)
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        return relative_l2(model(data), data.y)


def assert_all_grads(model: torch.nn.Module, data) -> None:
    """Every parameter gets a finite, nonzero-somewhere gradient from one backward pass."""
    model.zero_grad()
    out = model(data)
    (out ** 2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"no gradient for {name}"
        assert torch.isfinite(p.grad).all(), f"non-finite gradient for {name}"
        assert p.grad.abs().sum() > 0, f"zero gradient for {name}"




def assert_batching_invariant(model: torch.nn.Module, graphs, atol: float = 1e-5) -> None:
    """A Batch of ``graphs`` gives the same per-node predictions as each graph alone."""
    from torch_geometric.data import Batch

    model.eval()
    with torch.no_grad():
        alone = torch.cat([model(g) for g in graphs])
        together = model(Batch.from_data_list(graphs))
    assert together.shape == alone.shape
    torch.testing.assert_close(together, alone, atol=atol, rtol=0)


def assert_config_round_trip(model: torch.nn.Module, data) -> None:
    """``build_model(model.config)`` rebuilds the same architecture; loaded weights give the same outputs."""
    import json

    from graphops.models import build_model

    config = json.loads(json.dumps(model.config))
    assert config == model.config
    twin = build_model(config)
    assert twin.config == model.config
    mine, theirs = model.state_dict(), twin.state_dict()
    assert list(mine) == list(theirs)
    assert all(mine[k].shape == theirs[k].shape for k in mine)
    twin.load_state_dict(mine)
    model.eval()
    twin.eval()
    with torch.no_grad():
        torch.testing.assert_close(twin(data), model(data), atol=0, rtol=0)


@pytest.fixture
def checks():
    """The shared model checks: ``all_grads``, ``batching_invariant``, ``config_round_trip``, ``overfit``."""
    return SimpleNamespace(
        all_grads=assert_all_grads,
        batching_invariant=assert_batching_invariant,
        config_round_trip=assert_config_round_trip,
        overfit=overfit,
    )
