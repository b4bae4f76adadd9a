"""GIOROM / GNS particle models: decoder consistency, Euler stepping, rollout shapes, determinism, bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from graphops.errors import ConfigError, DataError
from graphops.models import build_model, default_config
from graphops.models.giorom import GIOROM, GNS, KernelIntegralDecoder, wall_features

torch.set_num_threads(1)

TINY = {"hidden": 16, "layers": 2, "material_dim": 4}


def blob(n: int = 300, seed: int = 0, dim: int = 2) -> np.ndarray:
    """Particles in a disk / ball of radius 0.2 around the centre of the unit box."""
    rng = np.random.default_rng(seed)
    pts = rng.normal(size=(4 * n, dim))
    pts = pts[np.linalg.norm(pts, axis=1) < 2.0][:n]
    return 0.5 + 0.1 * pts


def history_of(points: np.ndarray, frames: int = 6, velocity=(0.004, -0.002)) -> np.ndarray:
    v = np.asarray(velocity)[: points.shape[1]]
    return np.stack([points + k * v for k in range(frames)])


@pytest.mark.parametrize("name", ["giorom", "gns"])
def test_builds_from_name_with_json_config(name):
    model = build_model({"name": name})
    assert model.config == default_config(name)
    assert json.loads(json.dumps(model.config)) == model.config


def test_bad_configs():
    with pytest.raises(ConfigError, match="radius"):
        build_model({"name": "giorom", "radius": -1.0})
    with pytest.raises(ConfigError, match="num_samples"):
        build_model({"name": "giorom", "num_samples": 0})
    with pytest.raises(ConfigError, match="backend"):
        build_model({"name": "giorom", "fps_backend": "gpu"})
    with pytest.raises(ConfigError, match="dim"):
        build_model({"name": "gns", "dim": 4})


@pytest.mark.parametrize("dim", [2, 3])
def test_decoder_reproduces_linear_displacement_with_an_untrained_kernel(dim):
    torch.manual_seed(dim)
    rng = np.random.default_rng(dim)
    dense = torch.tensor(blob(2000 if dim == 2 else 3000, dim=dim), dtype=torch.float32)
    ref = dense[torch.from_numpy(rng.choice(len(dense), 150, replace=False))]
    decoder = KernelIntegralDecoder(dim, radius=0.08, hidden=16, layers=2, num_materials=3, material_dim=4,
                                    neighbours=8, chunk=500)
    mat = torch.from_numpy(rng.integers(0, 3, len(ref)))
    A = torch.tensor(rng.normal(size=(dim, dim)) * 0.1, dtype=torch.float32)
    b = torch.tensor(rng.normal(size=dim) * 0.05, dtype=torch.float32)
    u_ref = ref @ A.T + b
    plan = decoder.plan(ref, mat, dense)
    u = decoder.apply(plan, u_ref)
    truth = dense @ A.T + b
    assert ((u - truth).norm() / truth.norm()) < 1e-4
    # several frames at once, and the differentiable path, agree with the plan
    frames = torch.stack([u_ref, 2 * u_ref])
    np.testing.assert_allclose(decoder.apply(plan, frames)[1].numpy(), 2 * u.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(decoder(ref, mat, u_ref, dense).detach().numpy(), u.numpy(), atol=1e-5)
    # weights are a partition of unity
    ones = decoder.apply(plan, torch.ones(len(ref), dim))
    np.testing.assert_allclose(ones.numpy(), 1.0, atol=1e-5)


def test_decoder_falls_back_to_nearest_particles_and_chunks_consistently():
    ref = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    decoder = KernelIntegralDecoder(2, radius=0.1, hidden=8, layers=2, num_materials=1, material_dim=2,
                                    neighbours=4, chunk=2)
    # no particle within 0.1 of the first two, one (too few for a linear fit) of the third
    q = torch.tensor([[0.5, 0.5], [0.25, 0.75], [0.02, 0.0]])
    edges, scale = decoder.neighbours_of(ref, q)
    assert np.bincount(edges[1].numpy()).tolist() == [4, 4, 4]
    np.testing.assert_allclose(scale.numpy(), 1.25 * np.array([np.sqrt(0.5), np.hypot(0.75, 0.75), np.hypot(0.98, 1.0)]),
                               rtol=1e-5)
    mat = torch.zeros(4, dtype=torch.long)
    u_ref = ref @ torch.tensor([[0.3, 0.1], [-0.2, 0.4]]).T
    u = decoder.apply(decoder.plan(ref, mat, q), u_ref)
    np.testing.assert_allclose(u.numpy(), (q @ torch.tensor([[0.3, 0.1], [-0.2, 0.4]]).T).numpy(), atol=1e-5)
    big = KernelIntegralDecoder(2, radius=0.1, hidden=8, layers=2, num_materials=1, material_dim=2,
                                neighbours=4, chunk=1000)
    big.load_state_dict(decoder.state_dict())
    np.testing.assert_allclose(big.plan(ref, mat, q).to_dense().numpy(), decoder.plan(ref, mat, q).to_dense().numpy(),
                               atol=1e-6)


def test_decoder_rejects_queries_outside_the_domain_and_of_the_wrong_dimension():
    model = GIOROM(num_samples=50, decoder_radius=0.05, **TINY)
    hist = history_of(blob(200))
    with pytest.raises(DataError, match="outside the particles' bounding box"):
        model.rollout(hist, 2, query_points=np.array([[0.5, 0.5], [0.95, 0.5]]))
    with pytest.raises(DataError, match=r"shape \(Q, 2\)"):
        model.rollout(hist, 2, query_points=np.full((3, 3), 0.5))
    with pytest.raises(DataError, match="NaN"):
        model.rollout(hist, 2, query_points=np.array([[0.5, np.nan]]))


def test_wall_features_are_clipped_distances():
    pos = torch.tensor([[0.05, 0.5], [0.5, 0.98], [1.2, 0.5]])
    f = wall_features(pos, torch.tensor([[0.0, 0.0], [1.0, 1.0]]), radius=0.1)
    np.testing.assert_allclose(f[0].numpy(), [0.5, 1.0, 1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(f[1].numpy(), [1.0, 1.0, 1.0, 0.2], atol=1e-5)
    assert f[2, 2] == -1.0  # outside the upper x wall


@pytest.mark.parametrize("cls", [GNS, GIOROM])
def test_semi_implicit_euler_with_a_constant_acceleration(cls):
    """With the network's output zeroed, the acceleration is acc_mean: x_t = x_0 + v t + g t (t + 1) / 2."""
    model = cls(**TINY, **({"num_samples": 40} if cls is GIOROM else {}))
    last = model.net.decoder[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    g = np.array([0.0, -1e-4])
    model.set_statistics([0, 0], [1, 1], g, [1, 1])
    start = blob(120)
    v = np.array([0.003, 0.001])
    hist = np.stack([start - k * v for k in range(5, -1, -1)])
    out = model.rollout(hist, 4)
    t = np.arange(5)[:, None, None]
    expect = start + v * t + g * t * (t + 1) / 2
    idx = out["sparse_index"].numpy()
    np.testing.assert_allclose(out["sparse_positions"].numpy(), expect[:, idx], atol=1e-6)
    np.testing.assert_allclose(out["positions"].numpy(), expect, atol=1e-5)


@pytest.mark.parametrize("dim", [2, 3])
def test_rollout_shapes_and_determinism(dim):
    torch.manual_seed(0)
    model = GIOROM(dim=dim, num_samples=60, radius=0.06, decoder_radius=0.06, **TINY)
    pts = blob(250, dim=dim)
    hist = history_of(pts, velocity=(0.002, 0.001, -0.001))
    out = model.rollout(hist, 5, material=np.arange(250) % 3)
    assert out["positions"].shape == (6, 250, dim)
    assert out["sparse_positions"].shape == (6, 60, dim)
    assert out["sparse_index"].shape == (60,)
    np.testing.assert_allclose(out["positions"][0].numpy(), hist[-1], atol=1e-6)
    again = model.rollout(hist, 5, material=np.arange(250) % 3)
    assert torch.equal(out["positions"], again["positions"])
    # a model rebuilt from config + state dict (what a checkpoint holds) rolls out identically
    clone = build_model(model.config)
    clone.load_state_dict(model.state_dict())
    assert torch.equal(clone.rollout(hist, 5, material=np.arange(250) % 3)["positions"], out["positions"])
    q = pts[:7] + 0.001
    with_q = model.rollout(hist, 5, material=np.arange(250) % 3, query_points=q)
    assert with_q["query_positions"].shape == (6, 7, dim)
    np.testing.assert_allclose(with_q["query_positions"][0].numpy(), q, atol=1e-6)


def test_gns_advances_every_particle_and_rejects_query_points():
    model = GNS(radius=0.05, **TINY)
    hist = history_of(blob(100))
    out = model.rollout(hist, 3)
    assert out["positions"].shape == (4, 100, 2)
    assert torch.equal(out["sparse_index"], torch.arange(100))
    with pytest.raises(ConfigError, match="decoder"):
        model.rollout(hist, 1, query_points=blob(5))


def test_single_frame_input_starts_at_rest():
    model = GNS(radius=0.05, **TINY)
    hist, _, _ = model.check_inputs(blob(30))
    assert hist.shape == (6, 30, 2)
    assert torch.equal(hist[0], hist[-1])


@pytest.mark.parametrize(
    "history, kwargs, match",
    [
        (np.random.default_rng(0).random((6, 20, 3)) * 0.5 + 0.2, {}, "trained on 2D particles, got 3D"),
        (np.full((6, 20, 2), np.nan), {}, "NaN"),
        (np.zeros((6, 0, 2)), {}, "empty"),
        (np.full((6, 20, 2), 0.5), {"material": np.full(20, 7)}, "material ids"),
        (np.full((6, 20, 2), 0.5), {"material": np.zeros(3)}, "3 entries for 20 particles"),
        (np.full((6, 20, 2), 0.5), {"bounds": [[1, 1], [0, 0]]}, "lower < upper"),
        (np.full((6, 20, 2), 1.5), {}, "outside the wall box"),
    ],
)
def test_bad_particle_input(history, kwargs, match):
    model = GIOROM(num_samples=10, **TINY)
    with pytest.raises(DataError, match=match):
        model.rollout(history, 2, **kwargs)


def test_negative_steps_rejected():
    with pytest.raises(ConfigError, match="steps"):
        GNS(**TINY).rollout(history_of(blob(10)), -1)
