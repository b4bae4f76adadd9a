"""Physics sanity checks of the MLS-MPM simulator on small, real simulations."""
from __future__ import annotations

import math

import numpy as np
import pytest

from graphops.errors import ConfigError, DataError
from graphops.solvers.mpm import (
    MATERIAL_IDS,
    MPMConfig,
    MPMSimulator,
    ParticleState,
    box_scene,
    make_material,
    make_scene,
    run_scene,
    simulate_trajectory,
    stable_dt,
)
from graphops.solvers.mpm.materials import svd_signed

N_GRID = 32
WALL = 3 / N_GRID  # lower wall plane with the default padding of 3 cells


def _setup(scene, boundary=None, gravity=None, dt=None):
    cfg = MPMConfig(dim=scene.dim, n_grid=scene.n_grid,
                    dt=dt or stable_dt(scene.n_grid, list(scene.materials.values())),
                    gravity=scene.gravity if gravity is None else gravity,
                    boundary=boundary or scene.boundary, friction=scene.friction, padding=scene.padding)
    sim = MPMSimulator(cfg, scene.materials)
    state = ParticleState.create(scene.x, scene.v, scene.material, scene.particle_volume, scene.materials)
    return sim, state


def _angular_momentum_2d(x, v, m):
    return float(np.sum(m * (x[:, 0] * v[:, 1] - x[:, 1] * v[:, 0])))


@pytest.mark.parametrize("dim", [2, 3])
def test_p2g_conserves_mass_exactly(dim):
    rng = np.random.default_rng(0)
    scene = box_scene([0.3] * dim, [0.6] * dim, "jelly", n_grid=16, boundary="none")
    sim, state = _setup(scene)
    state.x += rng.uniform(-0.01, 0.01, size=state.x.shape)
    grid_mass, _ = sim.p2g(state)
    assert grid_mass.sum() == pytest.approx(state.mass.sum(), rel=1e-13)
    assert (grid_mass >= 0).all()


def test_transfers_conserve_linear_and_angular_momentum():
    """P2G -> G2P without forces or walls: APIC keeps P and L, and reproduces affine fields."""
    rng = np.random.default_rng(1)
    scene = box_scene([0.3, 0.35], [0.65, 0.6], "jelly", n_grid=N_GRID, boundary="none")
    sim, state = _setup(scene, boundary="none", gravity=0.0)
    state.x += rng.uniform(-0.005, 0.005, size=state.x.shape)
    state.v = rng.normal(size=state.x.shape)
    state.C = rng.normal(size=state.C.shape) * 5.0
    D = sim.config.dx**2 / 4.0  # inertia tensor of quadratic B-splines

    def apic_L(st):
        return _angular_momentum_2d(st.x, st.v, st.mass) + float(np.sum(st.mass * D * (st.C[:, 1, 0] - st.C[:, 0, 1])))

    p0, L0 = (state.mass[:, None] * state.v).sum(0), apic_L(state)
    grid_mass, grid_mom = sim.p2g(state, stress=False)
    grid_v = sim.grid_update(grid_mass, grid_mom, gravity=False)
    node_x = sim.node_coords * sim.config.dx
    np.testing.assert_allclose(grid_mom.sum(0), p0, rtol=0, atol=1e-12 * np.abs(p0).max())
    assert _angular_momentum_2d(node_x, grid_v, grid_mass) == pytest.approx(L0, rel=1e-11)
    sim.g2p(state, grid_v, advect=False)
    np.testing.assert_allclose((state.mass[:, None] * state.v).sum(0), p0, rtol=0, atol=1e-12 * np.abs(p0).max())
    assert apic_L(state) == pytest.approx(L0, rel=1e-11)

    # A rigid rotation plus translation is an affine field: velocities and C come back exactly.
    omega, centre, u = 3.0, np.array([0.47, 0.48]), np.array([0.2, -0.1])
    rel = state.x - centre
    state.v = u + omega * np.stack([-rel[:, 1], rel[:, 0]], axis=1)
    state.C = np.broadcast_to(np.array([[0.0, -omega], [omega, 0.0]]), state.C.shape).copy()
    v_before, L_before = state.v.copy(), apic_L(state)
    grid_mass, grid_mom = sim.p2g(state, stress=False)
    sim.g2p(state, sim.grid_update(grid_mass, grid_mom, gravity=False), advect=False)
    np.testing.assert_allclose(state.v, v_before, atol=1e-12)
    np.testing.assert_allclose(state.C[:, 1, 0], omega, atol=1e-10)
    assert apic_L(state) == pytest.approx(L_before, rel=1e-12)


@pytest.mark.parametrize("dim", [2, 3])
def test_free_fall_follows_ballistic_trajectory(dim):
    v0 = np.array([0.6, -0.3, 1.0][:dim])
    scene = box_scene([0.4] * dim, [0.55] * dim, "jelly", n_grid=24 if dim == 2 else 16, velocity=v0)
    sim, state = _setup(scene)
    dt, g = sim.config.dt, sim.config.gravity_vector
    com0 = state.x.mean(axis=0)
    n = int(0.12 / dt)
    sim.run(state, n)
    t = n * dt
    com = state.x.mean(axis=0)
    # symplectic Euler (grid velocity update, then x += dt v): exact discrete solution
    np.testing.assert_allclose(com, com0 + v0 * t + g * dt**2 * n * (n + 1) / 2, atol=1e-9)
    # continuous solution within the O(dt) splitting error g dt t / 2
    np.testing.assert_allclose(com, com0 + v0 * t + 0.5 * g * t**2, atol=abs(g).max() * dt * t / 2 + 1e-9)
    np.testing.assert_allclose(state.v, np.broadcast_to(v0 + g * t, state.v.shape), atol=1e-9)
    assert np.abs(state.F - np.eye(dim)).max() < 1e-9  # rigid motion, no strain


def test_jelly_drop_comes_to_rest_without_gaining_energy():
    scene = box_scene([0.4, 0.2], [0.6, 0.4], "jelly", n_grid=N_GRID, boundary="sticky")
    sim, state = _setup(scene)
    e0 = sim.energies(state)
    released = e0["gravitational"] - float(np.sum(state.mass) * sim.config.gravity * (WALL + 0.1))
    totals, mech, peak_kinetic = [], [], 0.0
    for _ in range(int(2.0 / sim.config.dt) // 25):
        sim.run(state, 25)
        e = sim.energies(state)
        totals.append(e["total"])
        mech.append(e["kinetic"] + e["gravitational"])
        peak_kinetic = max(peak_kinetic, e["kinetic"])
    box = sim.config.wall_box()
    assert np.isfinite(state.x).all() and (state.x >= box[0]).all() and (state.x <= box[1]).all()
    # energy (kinetic + gravity [+ stored elastic]) never rises above its initial value
    assert max(totals) <= e0["total"] + 1e-6 * abs(e0["total"])
    assert max(mech) <= e0["total"] + 1e-6 * abs(e0["total"])
    assert peak_kinetic > 0.5 * released  # it really fell
    assert sim.energies(state)["kinetic"] < 0.01 * peak_kinetic  # ... and came to rest
    # resting on the floor: centre of mass half a block above the wall (within ~1.5 cells)
    com_y = state.x[:, 1].mean()
    assert abs(com_y - (WALL + 0.1)) < 1.5 * sim.config.dx
    assert np.ptp(state.x[:, 0]) == pytest.approx(np.ptp(scene.x[:, 0]), abs=0.5 * sim.config.dx)  # kept its shape


def test_dam_break_spreads_and_drops():
    h = 1.0 / (2 * N_GRID)
    scene = box_scene([WALL, WALL], [WALL + 0.2, WALL + 0.4], "fluid", n_grid=N_GRID, boundary="slip")
    sim, state = _setup(scene)
    width0, height0 = np.ptp(state.x[:, 0]) + h, np.ptp(state.x[:, 1]) + h
    e0 = sim.energies(state)["total"]
    sim.run(state, int(0.3 / sim.config.dt))
    front = state.x[:, 0].max() - WALL
    top = np.quantile(state.x[:, 1], 0.99) - WALL  # ignore a few splashed particles
    assert front > 2.0 * width0
    assert top < 0.7 * height0
    assert sim.energies(state)["total"] < e0


def _collapse(material, params=None, seconds=1.0):
    scene = box_scene([0.4, WALL], [0.6, WALL + 0.4], material, n_grid=N_GRID, boundary="slip",
                      friction=0.5, material_params=params)
    sim, state = _setup(scene)
    sim.run(state, int(seconds / sim.config.dt))
    return sim, state


def test_sand_pile_slope_is_bounded_by_friction_angle_while_jelly_keeps_its_shape():
    phi = 35.0
    sim, sand = _collapse("sand", {"friction_angle": phi})
    kinetic = sim.energies(sand)["kinetic"]
    height = sand.x[:, 1].max() - WALL
    half_width = 0.5 * np.ptp(sand.x[:, 0])
    assert kinetic < 1e-2  # settled (started with ~ 10 J of potential energy to release)
    assert height < 0.6 * 0.4  # the column collapsed ...
    assert math.degrees(math.atan2(height, half_width)) < phi  # ... to a pile below the friction angle
    assert 0.0 < sand.x[:, 1].min() - WALL < sim.config.dx  # resting on the floor

    _, jelly = _collapse("jelly", seconds=0.6)
    spread_jelly = np.ptp(jelly.x[:, 0])
    assert spread_jelly < 0.2 * 1.1  # the jelly keeps its width (elastic sag only)
    assert np.ptp(jelly.x[:, 1]) > 0.85 * 0.4
    assert np.ptp(sand.x[:, 0]) > 2.0 * spread_jelly


def test_same_seed_same_trajectory_and_output_format():
    config = {"n_particles": 300, "materials": ["jelly", "fluid", "sand"], "n_objects": 3}
    a = simulate_trajectory(config, seed=7, n_frames=4, frame_dt=0.004)
    b = simulate_trajectory(config, seed=7, n_frames=4, frame_dt=0.004)
    c = simulate_trajectory(config, seed=8, n_frames=4, frame_dt=0.004)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert a["positions"].shape != c["positions"].shape or not np.array_equal(a["positions"], c["positions"])
    F, P, d = a["positions"].shape
    assert (F, d) == (4, 2) and 250 <= P <= 350
    assert a["positions"].dtype == np.float32 and a["velocities"].shape == (F, P, d)
    assert a["material"].shape == (P,) and set(a["material"].tolist()) <= set(MATERIAL_IDS.values())
    assert a["bounds"].shape == (2, 2)
    assert (a["positions"] >= a["bounds"][0]).all() and (a["positions"] <= a["bounds"][1]).all()
    assert float(a["dt"]) * int(a["substeps"]) == pytest.approx(0.004)
    # frame 1 differs from frame 0 by the simulated motion, consistently with the velocities
    moved = np.abs(a["positions"][1] - a["positions"][0]).max()
    assert 0 < moved < 0.004 * (np.abs(a["velocities"][:2]).max() + 1.0)


def test_random_scenes_are_valid():
    for seed in range(4):
        for dim in (2, 3):
            scene = make_scene({"dim": dim, "n_particles": 2000}, seed)
            assert abs(len(scene.x) - 2000) < 100
            lo, hi = scene.padding / scene.n_grid, 1 - scene.padding / scene.n_grid
            assert (scene.x > lo).all() and (scene.x < hi).all()
            assert np.all(np.diff(scene.material) >= 0)  # grouped by material
            assert np.isfinite(scene.v).all()


def test_signed_svd_reconstructs_with_rotations():
    rng = np.random.default_rng(3)
    for d in (2, 3):
        F = rng.normal(size=(200, d, d))
        F[0] = np.eye(d)
        U, s, Vt = svd_signed(F)
        np.testing.assert_allclose(np.einsum("pij,pj,pjk->pik", U, s, Vt), F, atol=1e-10)
        np.testing.assert_allclose(np.linalg.det(U), 1.0, atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(Vt), 1.0, atol=1e-12)
        np.testing.assert_allclose(np.prod(s, axis=1), np.linalg.det(F), atol=1e-10)


def test_bad_parameters_raise_clear_errors():
    scene = box_scene([0.4, 0.4], [0.5, 0.5], "jelly", n_grid=N_GRID)
    with pytest.raises(ConfigError, match="dt must be a positive"):
        MPMConfig(dt=-1e-4)
    with pytest.raises(ConfigError, match="CFL limit"):
        MPMSimulator(MPMConfig(n_grid=N_GRID, dt=0.01), scene.materials)
    with pytest.raises(ConfigError, match="boundary"):
        MPMConfig(boundary="bouncy")
    with pytest.raises(ConfigError, match="unknown material 'lava'"):
        make_material("lava")
    with pytest.raises(ConfigError, match="unknown parameter"):
        make_material("jelly", youngs=3.0)
    with pytest.raises(ConfigError, match="nu must be"):
        make_material("sand", nu=0.5)
    with pytest.raises(ConfigError, match="unknown MPM scene key"):
        make_scene({"particles": 10}, 0)
    with pytest.raises(ConfigError, match="n_frames"):
        run_scene(scene, 0)
    with pytest.raises(ConfigError, match="frame_dt"):
        run_scene(scene, 3, frame_dt=-0.01)

    outside = box_scene([0.0, 0.4], [0.2, 0.5], "jelly", n_grid=N_GRID)
    with pytest.raises(DataError, match="outside the wall box"):
        run_scene(outside, 2)
    nan_scene = box_scene([0.4, 0.4], [0.5, 0.5], "jelly", n_grid=N_GRID)
    nan_scene.x[3, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        run_scene(nan_scene, 2)
    sim, state = _setup(box_scene([0.4, 0.4], [0.5, 0.5], "jelly", n_grid=N_GRID))
    state.v[0] = np.inf
    with pytest.raises(DataError, match="NaN/inf"), np.errstate(invalid="ignore"):
        sim.substep(state)
