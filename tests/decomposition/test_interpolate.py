import itertools

import numpy as np
import pytest
import torch
from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator, RegularGridInterpolator
from threadpoolctl import threadpool_limits

from graphops.decomposition import (
    GridScatter,
    GridSpec,
    build_scatters,
    decomposition_grids,
    kdtree_decompose,
    sample_grid,
    sample_grid_torch,
    sample_subdomains,
    sample_subdomains_torch,
    sample_weights,
    scatter_to_grid,
    scatter_to_subdomains,
    subdomain_sample_weights,
)
from graphops.errors import DataError


def _linear(x, d, channels=2, seed=0):
    """A linear field a . x + b with ``channels`` columns, and its coefficients."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(d, channels)), rng.normal(size=channels)
    return x @ a + b, (a, b)


def _grid(d, lower=0.0, upper=1.0):
    shape = (9, 13) if d == 2 else (6, 9, 7)
    return GridSpec(np.full(d, lower), np.full(d, upper) * np.linspace(1.0, 1.3, d), shape)


# ---------------------------------------------------------------- points -> grid


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_scatter_reproduces_a_linear_field_inside_the_hull(d, offset):
    rng = np.random.default_rng(1)
    g = GridSpec(np.full(d, offset - 0.1), np.full(d, offset + 1.1) + np.arange(d) * 0.1, _grid(d).shape)
    x = offset + rng.uniform(size=(4000, d))
    f, (a, b) = _linear(x, d)
    sc = GridScatter(x, g)
    on_grid = sc(f)
    assert on_grid.shape == (*g.shape, 2)
    exact = (g.nodes() @ a + b).reshape(*g.shape, 2)
    assert 0.2 < sc.inside.mean() < 0.9
    inside = sc.inside.reshape(g.shape)
    np.testing.assert_allclose(on_grid[inside], exact[inside], rtol=0, atol=1e-10 * max(1.0, offset))


@pytest.mark.parametrize("d", [2, 3])
def test_scatter_matches_scipy_linear_inside_and_nearest_outside(d):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1500, d)) * 0.3 + 0.5
    f = np.sin(3 * x).sum(axis=1)
    g = _grid(d)
    ours = scatter_to_grid(x, f, g).reshape(-1)
    assert ours.shape == (g.size,)
    nodes = g.nodes()
    with threadpool_limits(limits=1, user_api="blas"):  # scipy's per-simplex LAPACK calls
        lin = LinearNDInterpolator(x, f)(nodes)
    near = NearestNDInterpolator(x, f)(nodes)
    inside = ~np.isnan(lin)
    np.testing.assert_allclose(ours[inside], lin[inside], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ours[~inside], near[~inside])
    assert (~inside).any() and inside.any()


def test_scatter_without_a_triangulation_takes_the_nearest_point():
    x = np.array([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]])  # collinear
    g = GridSpec([0.0, 0.0], [1.0, 1.0], (3, 3))
    sc = GridScatter(x, g)
    assert not sc.inside.any()
    values = np.array([1.0, 2.0, 3.0])
    dist = np.linalg.norm(g.nodes()[:, None] - x[None], axis=2)
    got = sc(values).reshape(-1)
    for node in range(g.size):  # the value of a point at the smallest distance (ties either way)
        assert got[node] in values[np.isclose(dist[node], dist[node].min())]


@pytest.mark.parametrize("d", [2, 3])
def test_mesh_nodes_to_grid_linear_field(d, holes_mesh, cube_mesh):
    x = holes_mesh.points[:, :2] if d == 2 else cube_mesh.points
    g = GridSpec(x.min(0), x.max(0), (17,) * d)
    f, (a, b) = _linear(x, d, channels=1)
    sc = GridScatter(x, g)
    exact = g.nodes() @ a + b
    # the mesh nodes include the box corners, so every grid node lies in the hull
    assert sc.inside.all()
    np.testing.assert_allclose(sc(f).reshape(-1, 1), exact, rtol=0, atol=1e-10)


# ---------------------------------------------------------------- grid -> points


@pytest.mark.parametrize("d", [2, 3])
def test_sampling_reproduces_a_linear_field(d):
    g = _grid(d, lower=-0.5, upper=1.5)
    rng = np.random.default_rng(3)
    q = rng.uniform(g.lower, g.upper, size=(3000, d))
    q = np.vstack([q, g.nodes(), g.box, [[lo if k % 2 else hi for k, (lo, hi) in enumerate(zip(g.lower, g.upper))]]])
    grid_f, (a, b) = _linear(g.nodes(), d)
    out = sample_grid(grid_f.reshape(*g.shape, 2), g, q)
    np.testing.assert_allclose(out, q @ a + b, rtol=0, atol=1e-12)
    # exactly the node values at the nodes
    np.testing.assert_allclose(sample_grid(grid_f.reshape(*g.shape, 2), g, g.nodes()), grid_f, rtol=0, atol=1e-14)


@pytest.mark.parametrize("d", [2, 3])
def test_sampling_matches_regular_grid_interpolator(d):
    g = _grid(d)
    rng = np.random.default_rng(4)
    values = rng.normal(size=g.shape)
    q = rng.uniform(g.lower, g.upper, size=(2000, d))
    ref = RegularGridInterpolator(g.axes(), values, method="linear")(q)
    out = sample_grid(values, g, q)
    assert out.shape == (2000,)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)


def test_points_outside_the_box_are_clipped():
    g = GridSpec([0.0, 0.0], [1.0, 2.0], (5, 5))
    values = np.random.default_rng(5).normal(size=g.shape)
    outside = np.array([[-1.0, 0.7], [3.0, 2.5], [0.3, -7.0]])
    np.testing.assert_array_equal(
        sample_grid(values, g, outside), sample_grid(values, g, np.clip(outside, g.lower, g.upper))
    )


def test_sample_weights_are_a_partition_of_unity():
    g = _grid(3)
    q = np.random.default_rng(6).uniform(-0.2, 1.5, size=(500, 3))
    index, weight = sample_weights(g, q)
    assert index.shape == weight.shape == (500, 8)
    assert (weight >= 0).all() and (index >= 0).all() and (index < g.size).all()
    np.testing.assert_allclose(weight.sum(1), 1.0, atol=1e-14)


@pytest.mark.parametrize("d", [2, 3])
def test_torch_sampling_matches_numpy_and_has_gradients(d):
    g = _grid(d)
    rng = np.random.default_rng(7)
    values = rng.normal(size=(*g.shape, 3))
    q = rng.uniform(g.lower, g.upper, size=(400, d))
    ref = sample_grid(values, g, q)
    t = torch.tensor(values, requires_grad=True)
    out = sample_grid_torch(t, g, torch.from_numpy(q))
    assert out.shape == (400, 3) and out.dtype == torch.float64
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=0, atol=1e-13)
    out.sum().backward()
    # each point spreads a total weight of one over the grid, per channel
    assert t.grad.sum().item() == pytest.approx(400 * 3)
    small = GridSpec(np.zeros(d), np.ones(d), (3,) * d)
    tv = torch.randn(*small.shape, 1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: sample_grid_torch(v, small, q[:20] / q.max()), (tv,))
    batched = sample_grid_torch(torch.stack([t, 2 * t]).float(), g, q)
    assert batched.shape == (2, 400, 3) and batched.dtype == torch.float32
    np.testing.assert_allclose(batched[1].detach().numpy(), 2 * ref, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- round trips and subdomains


@pytest.mark.parametrize("d", [2, 3])
def test_round_trip_points_grid_points_linear_field(d):
    rng = np.random.default_rng(8)
    corners = np.array(list(itertools.product([0.0, 1.0], repeat=d)))
    x = np.vstack([corners, rng.uniform(size=(3000, d))])  # hull = unit box
    g = GridSpec(np.zeros(d), np.ones(d), (12,) * d)
    f, _ = _linear(x, d)
    sc = GridScatter(x, g)
    assert sc.inside.all()
    back = sample_grid(sc(f), g, x)
    np.testing.assert_allclose(back, f, rtol=0, atol=1e-10)


@pytest.mark.parametrize("d", [2, 3])
def test_subdomain_round_trip_of_a_linear_field(d):
    n = 41 if d == 2 else 15
    axes = [np.linspace(0.0, 1.0 + 0.5 * j, n) for j in range(d)]
    x = np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=1)
    x = x + np.random.default_rng(9).uniform(-1e-3, 1e-3, size=x.shape) * (x > 0) * (x < x.max(0))
    dec = kdtree_decompose(x, 4, overlap=0.3)
    grids = decomposition_grids(dec, oversampling=2.0, common_shape=True)
    f, _ = _linear(x, d)
    stacked = scatter_to_subdomains(x, f, dec, grids, stack=True)
    assert stacked.shape == (4, *grids[0].shape, 2)
    back = sample_subdomains(stacked, grids, dec.labels, x)
    # owned points sit well inside their halo grid, where every node was interpolated linearly
    np.testing.assert_allclose(back, f, rtol=0, atol=1e-10)
    t = torch.tensor(stacked, requires_grad=True)
    weights = subdomain_sample_weights(grids, dec.labels, x)
    out = sample_subdomains_torch(t, grids, dec.labels, x, weights=weights)
    np.testing.assert_allclose(out.detach().numpy(), back, rtol=0, atol=1e-13)
    out.square().sum().backward()
    assert t.grad.abs().sum() > 0
    reused = scatter_to_subdomains(x, 2 * f, dec, grids, scatters=build_scatters(x, dec, grids))
    np.testing.assert_allclose(reused[0], 2 * stacked[0], rtol=0, atol=1e-12)
    # new points, located in the tree: here all in subdomain 2, so the others own none
    q = x[dec.labels == 2][:5] + 1e-4
    labels = dec.locate(q)
    np.testing.assert_array_equal(labels, 2)
    np.testing.assert_allclose(sample_subdomains(stacked, grids, labels, q), sample_grid(stacked[2], grids[2], q))


# ---------------------------------------------------------------- bad input


def test_bad_interpolation_input():
    x = np.random.default_rng(10).uniform(size=(50, 2))
    g = GridSpec([0.0, 0.0], [1.0, 1.0], (4, 4))
    with pytest.raises(DataError, match=r"values must have shape \(50,\) or \(50, c\), got \(49,\)"):
        scatter_to_grid(x, np.zeros(49), g)
    with pytest.raises(DataError, match="NaN"):
        scatter_to_grid(x, np.full(50, np.nan), g)
    with pytest.raises(DataError, match="NaN or infinite coordinates"):
        scatter_to_grid(np.vstack([x, [[np.inf, 0.0]]]), np.zeros(51), g)
    with pytest.raises(DataError, match="grid is 3D but the points are 2D"):
        scatter_to_grid(x, np.zeros(50), GridSpec([0, 0, 0], [1, 1, 1], (2, 2, 2)))
    with pytest.raises(DataError, match=r"grid values must have shape \(4, 4\)"):
        sample_grid(np.zeros((4, 5)), g, x)
    with pytest.raises(DataError, match=r"shape \(N, 2\)"):
        sample_grid(np.zeros((4, 4)), g, np.zeros((5, 3)))
    with pytest.raises(DataError, match=r"\(\*batch, 4, 4, c\)"):
        sample_grid_torch(torch.zeros(4, 4), g, x)
    dec = kdtree_decompose(x, 2)
    grids = decomposition_grids(dec)
    if grids[0].shape != grids[1].shape:
        with pytest.raises(DataError, match="common_shape=True"):
            subdomain_sample_weights(grids, dec.labels, x)
    with pytest.raises(DataError, match="labels must lie in"):
        subdomain_sample_weights([g, g], np.full(50, 2), x)
    with pytest.raises(DataError, match="made for 50 points, got 49"):
        build_scatters(x[:49], dec, grids)
