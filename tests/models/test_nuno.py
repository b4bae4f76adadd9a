"""NUNO and the global-grid FNO: shapes, gradients, plumbing, config round trip, overfitting, training."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch_geometric.data import Batch, Data

from graphops.errors import ConfigError, DataError
from graphops.models import build_model
from graphops.models.nuno import GlobalFNO, NUNO, build_plan

torch.set_num_threads(1)

SMALL = {"grid_shape": 8, "n_modes": 4, "hidden": 8, "layers": 2}
PER_SAMPLE = {"decomposition": "sample", **SMALL}


def clustered_cloud(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Points in the unit box, denser towards the origin corner (a non-uniform cloud)."""
    return np.random.default_rng(seed).uniform(size=(n, d)) ** 2


def graph(n: int, d: int, seed: int = 0) -> Data:
    pos = torch.tensor(clustered_cloud(n, d, seed), dtype=torch.float32)
    data = Data(pos=pos, num_nodes=n)
    data.f = 1.0 + 2.0 * pos[:, 0] - pos[:, 1]
    data.y = torch.sin(3.0 * pos[:, :1]) + pos[:, 1:2] ** 2
    return data


class CoordinateHead(nn.Module):
    """Stands in for the FNO: returns ``coef . (channel block [start, start + width)) + 0.5`` per grid."""

    def __init__(self, channels_per_grid: int, start: int, coef: torch.Tensor) -> None:
        super().__init__()
        self.c, self.start, self.coef = channels_per_grid, start, coef

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, k = x.shape[0], x.shape[1] // self.c
        x = x.reshape(b, k, self.c, *x.shape[2:])
        sel = x[:, :, self.start : self.start + len(self.coef)]
        out = (sel * self.coef.reshape(1, 1, -1, *[1] * (x.dim() - 3))).sum(2, keepdim=True) + 0.5
        return out.reshape(b, k, *x.shape[3:])


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("stacking", ["batch", "channels"])
def test_shapes_and_gradients(d, stacking):
    model = build_model({"name": "nuno", "dim": d, "n_subdomains": 4, "stacking": stacking, "in_fields": ["f"],
                         **PER_SAMPLE})
    batch = Batch.from_data_list([graph(150, d, 0), graph(170, d, 1)])
    out = model(batch)
    assert out.shape == (320, 1)
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    assert all(p.made == 4 and p.shape == (8,) * d for p in model._plans.values())


@pytest.mark.parametrize("d", [2, 3])
def test_global_fno_shapes(d):
    model = build_model({"name": "fno_global", "dim": d, **SMALL})
    assert isinstance(model, GlobalFNO)
    data = graph(120, d)
    assert model(data).shape == (120, 1)
    (plan,) = model._plans.values()
    assert plan.made == 1 and plan.shape == (8,) * d


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("stacking", ["batch", "channels"])
def test_identity_fno_reproduces_linear_field_of_coordinates(d, stacking):
    """Grid coordinates sampled back at the points give the points (exactly, up to float32)."""
    model = NUNO(dim=d, n_subdomains=4, overlap=0.1, stacking=stacking, **PER_SAMPLE)
    coef = torch.arange(1.0, d + 1.0)
    model.fno = CoordinateHead(model.in_channels + model.static_channels, model.in_channels, coef)
    batch = Batch.from_data_list([graph(200, d, 0), graph(230, d, 1)])
    out = model(batch)
    expected = batch.pos @ coef[:, None] + 0.5
    assert torch.allclose(out, expected, atol=1e-5)


def test_identity_fno_reproduces_interpolated_linear_input():
    """A linear input field survives points -> grids -> points where the grid interpolation is linear."""
    model = NUNO(dim=2, n_subdomains=4, overlap=0.2, in_fields=["f"], **PER_SAMPLE)
    model.fno = CoordinateHead(model.in_channels + model.static_channels, 0, torch.ones(1))
    data = graph(300, 2)
    out = model(data)[:, 0] - 0.5
    plan = model.plan(data.pos)
    exact = plan.inside[plan.sample_index].all(axis=1)
    assert exact.sum() > 100
    assert torch.allclose(out[exact], data.f[exact], atol=1e-5)
    rel = float(torch.linalg.norm(out - data.f) / torch.linalg.norm(data.f))
    assert rel < 0.05


def test_plan_is_cached_per_geometry():
    model = NUNO(dim=2, n_subdomains=4, **PER_SAMPLE)
    a, b = graph(150, 2, 0), graph(150, 2, 1)
    model(a), model(b), model(a)
    assert len(model._plans) == 2
    assert model.plan(a.pos) is model.plan(a.pos.clone())
    model.clear_cache()
    assert len(model._plans) == 0


def test_build_plan_maps():
    x = clustered_cloud(400, 2)
    plan = build_plan(x, 6, grid_shape=(10, 12), overlap=0.1)
    assert plan.made == 6 and plan.shape == (10, 12)
    assert plan.scatter.shape == (6 * 120, 400)
    assert np.allclose(np.asarray(plan.scatter.sum(axis=1)).ravel(), 1.0)  # interpolation rows sum to one
    assert plan.static.shape == (6, 10, 12, 7)
    assert np.allclose(plan.sample_weight.sum(axis=1), 1.0)
    assert (plan.sample_index // 120 == plan.labels[:, None]).all()  # every point sampled from its owner
    small = build_plan(x[:20], 8)  # too few points for 8 subdomains of min_points=8
    assert small.made <= 2 and small.requested == 8


def test_config_round_trip(tmp_path):
    from graphops.train import load_model, save_checkpoint

    config = {"name": "nuno", "dim": 2, "n_subdomains": 3, "grid_shape": [8, 10], "decomposition": "sample",
              "in_fields": ["f"], "n_modes": [4, 6], "hidden": 8, "layers": 2}
    model = build_model(config)
    assert {k: model.config[k] for k in config} == config
    again = build_model(dict(model.config))
    assert again.config == model.config
    again.load_state_dict(model.state_dict(), strict=True)
    data = graph(140, 2)
    path = save_checkpoint(tmp_path / "nuno.pt", model)
    loaded, _, meta = load_model(path)
    assert meta["model_config"] == model.config
    model.eval()
    with torch.no_grad():
        assert torch.allclose(loaded(data), model(data), atol=1e-6)
    glob = build_model({"name": "fno_global", "grid_shape": 12, "hidden": 8})
    assert build_model(dict(glob.config)).config == glob.config


def test_bad_configs_and_inputs():
    with pytest.raises(ConfigError, match="dim"):
        build_model({"name": "nuno", "dim": 4})
    with pytest.raises(ConfigError, match="stacking"):
        build_model({"name": "nuno", "stacking": "pile"})
    with pytest.raises(ConfigError, match="decomposition"):
        build_model({"name": "nuno", "decomposition": "global"})
    with pytest.raises(ConfigError, match="fit_decomposition needs"):
        NUNO(**PER_SAMPLE).fit_decomposition([torch.rand(50, 2)])
    with pytest.raises(ConfigError, match="grid_shape"):
        build_model({"name": "nuno", "grid_shape": [8, 1]})
    with pytest.raises(ConfigError, match="unknown key"):
        build_model({"name": "fno_global", "n_subdomains": 4})
    model = NUNO(dim=2, in_fields=["f"], **PER_SAMPLE)
    with pytest.raises(DataError, match="3D"):
        model(graph(100, 3))
    with pytest.raises(DataError, match="'f'"):
        model(Data(pos=torch.rand(100, 2)))


def test_overfits_one_smooth_sample():
    """One smooth field on a non-uniform cloud: relative L2 < 0.1 after a short fit."""
    torch.manual_seed(0)
    data = graph(400, 2)
    model = NUNO(dim=2, n_subdomains=4, grid_shape=10, n_modes=5, hidden=16, layers=2, overlap=0.1)
    model.prepare([data])  # default: one decomposition shared by the training clouds, here the one sample
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    rel = None
    for _ in range(300):
        opt.zero_grad()
        pred = model(data)
        loss = torch.linalg.norm(pred - data.y) / torch.linalg.norm(data.y)
        loss.backward()
        opt.step()
        rel = float(loss.detach())
        if rel < 0.05:
            break
    assert rel < 0.1


def test_trains_with_the_generic_trainer(tmp_path):
    from graphops.train import Trainer

    items = []
    for seed in range(6):
        g = graph(120 + 5 * seed, 2, seed)
        g.g = torch.zeros(g.num_nodes)
        g.sample_id = seed
        items.append(g)
    config = {
        "data": {"root": str(tmp_path / "unused")},
        "model": {"name": "nuno", "n_subdomains": 4, "in_fields": ["f"], **PER_SAMPLE},
        "train": {"epochs": 2, "batch_size": 3, "device": "cpu", "patience": None},
        "out": str(tmp_path / "run"),
    }
    best = Trainer(config, items[:4], items[4:], progress=False).fit()
    assert best.exists()
    config["model"] = {"name": "nuno", "n_subdomains": 4, "in_fields": ["f"], **SMALL}  # shared decomposition
    config["out"] = str(tmp_path / "run-shared")
    import warnings

    with warnings.catch_warnings():  # the trainer calls prepare(): boxes from the whole training set, no warning
        warnings.filterwarnings("error", message=".*first training batch")
        best = Trainer(config, items[:4], items[4:], progress=False).fit()
    from graphops.train import load_model

    model, _, _ = load_model(best)
    assert model.fitted  # the boxes travel with the weights
    reference = NUNO(dim=2, n_subdomains=4, in_fields=["f"], **SMALL).fit_decomposition(items[:4])
    assert torch.equal(model.shared_boxes, reference.shared_boxes)


def test_shared_decomposition_is_fitted_saved_and_reused(tmp_path):
    train = [graph(150, 2, seed) for seed in range(4)]
    model = NUNO(dim=2, n_subdomains=4, decomposition="shared", stacking="channels", **SMALL)
    assert not model.fitted
    model.eval()
    with pytest.raises(DataError, match="fit_decomposition"):
        model(train[0])
    model.fit_decomposition(train)
    assert model.fitted
    boxes = model.shared_boxes.clone()
    out = model(Batch.from_data_list(train[:2]))
    assert out.shape == (300, 1)
    plans = list(model._plans.values())
    assert all(np.allclose(p.static[..., 2:6].reshape(4, -1, 4)[:, 0], boxes[:, 1].reshape(4, 4).numpy())
               for p in plans)  # every sample uses the same (halo) boxes, in the same order
    again = build_model(dict(model.config))
    again.load_state_dict(model.state_dict(), strict=True)
    assert torch.equal(again.shared_boxes, boxes)
    with torch.no_grad():
        assert torch.allclose(again.eval()(train[2]), model(train[2]), atol=1e-6)


def test_shared_decomposition_plumbing_is_exact_inside_the_boxes():
    clouds = [graph(200, 3, seed) for seed in range(3)]
    model = NUNO(dim=3, n_subdomains=4, decomposition="shared", overlap=0.1, **SMALL).fit_decomposition(clouds)
    coef = torch.tensor([1.0, -2.0, 0.5])
    model.fno = CoordinateHead(model.in_channels + model.static_channels, model.in_channels, coef)
    data = graph(180, 3, 7)  # a new cloud, inside the union's bounding box up to sampling noise
    lo, hi = model.shared_boxes[:, 0, 0].min(0).values, model.shared_boxes[:, 0, 1].max(0).values
    inside = ((data.pos >= lo.float()) & (data.pos <= hi.float())).all(dim=1)
    out = model(data)[:, 0]
    expected = data.pos @ coef + 0.5
    assert inside.sum() > 150
    assert torch.allclose(out[inside], expected[inside], atol=1e-5)


def test_unfitted_shared_model_fits_on_first_training_batch():
    model = NUNO(dim=2, n_subdomains=3, decomposition="shared", **SMALL)
    with pytest.warns(UserWarning, match="first training batch"):
        model(Batch.from_data_list([graph(120, 2, 0), graph(130, 2, 1)]))
    assert model.fitted
