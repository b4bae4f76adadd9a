"""MLS-MPM on a regular grid over the unit box, vectorised over particles with numpy.

The scheme is the moving-least-squares material point method of Hu et al. (2018)
with APIC transfers (Jiang et al. 2015), for any dimension d in {2, 3}:

1. **P2G.** Each particle p scatters to the 3^d grid nodes i around it, with
   quadratic B-spline weights ``w_ip``, mass ``w_ip m_p`` and momentum
   ``w_ip (m_p v_p + A_p (x_i - x_p))`` where
   ``A_p = m_p C_p - dt V_p (4 / dx^2) tau_p`` folds the affine velocity ``C_p`` and
   the Kirchhoff stress ``tau_p = P F^T`` into one matrix (``4/dx^2`` is the inverse
   of the quadratic B-spline inertia tensor ``D = dx^2/4 I``).
   Scatters are ``np.bincount`` over flattened node indices (deterministic).
2. **Grid update.** ``v_i = momentum_i / m_i`` + ``dt g``, then the walls: nodes
   on or beyond the wall planes ``padding * dx`` and ``1 - padding * dx`` (node index
   ``<= padding`` or ``>= n_grid - padding`` along an axis) are wall nodes.
   ``"sticky"`` zeroes their velocity; ``"slip"`` removes the velocity component
   pointing into that wall (the material may leave the wall) and, with ``friction``
   mu > 0, reduces the tangential speed by ``mu`` times the removed normal speed
   (Coulomb); ``"none"`` has no walls (particles must stay inside the grid). Material
   comes to rest up to about one cell before a wall plane; positions are finally
   clipped to the wall box, so no particle ever leaves it (a fast impact can
   otherwise overshoot the plane by a small fraction of a cell).
3. **G2P.** ``v_p = sum w_ip v_i``, ``C_p = 4/dx^2 sum w_ip v_i (x_i - x_p)^T``,
   ``F_p <- (I + dt C_p) F_p`` followed by the material's plastic projection,
   ``x_p <- x_p + dt v_p`` (symplectic Euler).

Time step: explicit, so ``dt <= cfl * dx / (c + v_max)`` with ``c`` the largest
material wave speed and ``v_max`` a bound on particle speeds; see :func:`stable_dt`.
``cfl = 0.4`` (the default) is stable for the default materials in our tests;
:class:`MPMSimulator` refuses a ``dt`` above the ``cfl = 1`` limit.

Gravity points along ``-e_{d-1}`` (the last axis is "up": y in 2D, z in 3D).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product
from typing import Dict, Mapping, Optional, Sequence

import numpy as np

from graphops.errors import ConfigError, DataError
from graphops.solvers.mpm.materials import Material, small_matmul

BOUNDARIES = ("slip", "sticky", "none")


@dataclass(frozen=True)
class MPMConfig:
    """Grid and time-stepping parameters.

    Attributes
    ----------
    dim : 2 or 3
    n_grid : cells per side of the unit box (grid spacing ``dx = 1 / n_grid``; nodes
        ``0..n_grid`` per axis).
    dt : substep length (s).
    gravity : magnitude of gravity (m/s^2), pointing along ``-e_{d-1}``.
    boundary : ``"slip"``, ``"sticky"`` or ``"none"``.
    friction : Coulomb friction coefficient of ``"slip"`` walls (>= 0).
    padding : wall thickness in cells (>= 2); particles live in the wall box
        ``[padding dx, 1 - padding dx]^d``.
    """

    dim: int = 2
    n_grid: int = 64
    dt: float = 2e-4
    gravity: float = 9.81
    boundary: str = "slip"
    friction: float = 0.0
    padding: int = 3

    def __post_init__(self) -> None:
        if self.dim not in (2, 3):
            raise ConfigError(f"MPM dim must be 2 or 3, got {self.dim!r}")
        if not isinstance(self.n_grid, (int, np.integer)) or not 8 <= self.n_grid <= 1024:
            raise ConfigError(f"MPM n_grid must be an integer in [8, 1024], got {self.n_grid!r}")
        if not (isinstance(self.dt, (int, float)) and math.isfinite(self.dt) and self.dt > 0):
            raise ConfigError(f"MPM dt must be a positive finite number, got {self.dt!r}")
        if not (isinstance(self.gravity, (int, float)) and math.isfinite(self.gravity)):
            raise ConfigError(f"MPM gravity must be a finite number, got {self.gravity!r}")
        if self.boundary not in BOUNDARIES:
            raise ConfigError(f"MPM boundary must be one of {', '.join(BOUNDARIES)}, got {self.boundary!r}")
        if not (math.isfinite(self.friction) and self.friction >= 0):
            raise ConfigError(f"MPM friction must be >= 0, got {self.friction!r}")
        if not isinstance(self.padding, (int, np.integer)) or not 2 <= self.padding < self.n_grid // 2 - 1:
            raise ConfigError(f"MPM padding must be an integer in [2, n_grid/2 - 1), got {self.padding!r}")

    @property
    def dx(self) -> float:
        return 1.0 / self.n_grid

    @property
    def gravity_vector(self) -> np.ndarray:
        """(d,) gravity acceleration."""
        g = np.zeros(self.dim)
        g[-1] = -self.gravity
        return g

    def wall_box(self) -> np.ndarray:
        """(2, d) lower and upper corners of the box the walls keep particles in."""
        lo = self.padding * self.dx
        return np.array([[lo] * self.dim, [1.0 - lo] * self.dim])


def stable_dt(n_grid: int, materials: Sequence[Material], cfl: float = 0.4, v_max: float = 6.0) -> float:
    """CFL time step ``cfl * dx / (max wave speed + v_max)`` (s).

    Parameters
    ----------
    n_grid : cells per side of the unit box.
    materials : the materials in the scene.
    cfl : Courant number (0.4 is stable for the default materials).
    v_max : bound on particle speeds (m/s); 6 m/s covers a fall across the unit box
        under gravity (sqrt(2 g) ~ 4.4 m/s) plus the initial velocities of our scenes.
    """
    if not materials:
        raise ConfigError("stable_dt needs at least one material")
    c = max(m.wave_speed() for m in materials)
    return cfl / n_grid / (c + v_max)


@dataclass
class ParticleState:
    """Particle state, all float64.

    Attributes
    ----------
    x : (P, d) positions. v : (P, d) velocities. C : (P, d, d) APIC affine velocity.
    F : (P, d, d) deformation gradients. material : (P,) int material ids.
    mass : (P,) masses (kg). volume : (P,) reference volumes (m^d).
    time : simulated time (s).
    """

    x: np.ndarray
    v: np.ndarray
    C: np.ndarray
    F: np.ndarray
    material: np.ndarray
    mass: np.ndarray
    volume: np.ndarray
    time: float = 0.0

    @classmethod
    def create(cls, x: np.ndarray, v: Optional[np.ndarray], material: np.ndarray,
               volume: np.ndarray, materials: Mapping[int, Material]) -> "ParticleState":
        """Fresh state at rest shape (``F = I``, ``C = 0``); masses from material densities.

        Parameters
        ----------
        x : (P, d) positions. v : (P, d) velocities or None (zero).
        material : (P,) material ids (keys of ``materials``).
        volume : (P,) or scalar particle volume. materials : id -> Material.
        """
        x = np.array(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] not in (2, 3) or len(x) == 0:
            raise DataError(f"particle positions must have shape (P, 2) or (P, 3) with P > 0, got {x.shape}")
        P, d = x.shape
        v = np.zeros_like(x) if v is None else np.array(v, dtype=np.float64)
        material = np.asarray(material, dtype=np.int64).reshape(-1)
        if v.shape != x.shape:
            raise DataError(f"particle velocities have shape {v.shape}, expected {x.shape}")
        if material.shape != (P,):
            raise DataError(f"material ids have shape {material.shape}, expected ({P},)")
        missing = sorted(set(np.unique(material).tolist()) - set(materials))
        if missing:
            raise ConfigError(f"material id(s) {missing} have no material model")
        volume = np.broadcast_to(np.asarray(volume, dtype=np.float64), (P,)).copy()
        if not (np.isfinite(volume).all() and (volume > 0).all()):
            raise DataError("particle volumes must be positive and finite")
        density = np.zeros(max(materials) + 1)
        for mid, mat in materials.items():
            density[mid] = mat.density
        eye = np.broadcast_to(np.eye(d), (P, d, d)).copy()
        return cls(x=x, v=v, C=np.zeros((P, d, d)), F=eye, material=material,
                   mass=density[material] * volume, volume=volume)

    def copy(self) -> "ParticleState":
        return ParticleState(self.x.copy(), self.v.copy(), self.C.copy(), self.F.copy(),
                             self.material.copy(), self.mass.copy(), self.volume.copy(), self.time)


@dataclass
class Stencil:
    """Quadratic B-spline stencil of every particle over its 3^d nodes.

    Attributes
    ----------
    node : (P, K) flat node indices, K = 3^d. weight : (P, K) weights (sum to 1).
    dpos : (d, P, K) node position minus particle position (m), component-major.
    """

    node: np.ndarray
    weight: np.ndarray
    dpos: np.ndarray


class MPMSimulator:
    """Explicit MLS-MPM time stepper.

    Parameters
    ----------
    config : MPMConfig
    materials : mapping material id -> Material (ids as in the particle state).
    """

    def __init__(self, config: MPMConfig, materials: Mapping[int, Material]) -> None:
        if not materials:
            raise ConfigError("MPMSimulator needs at least one material")
        self.config = config
        self.materials: Dict[int, Material] = dict(materials)
        limit = stable_dt(config.n_grid, list(self.materials.values()), cfl=1.0, v_max=0.0)
        if config.dt > limit:
            raise ConfigError(f"MPM dt={config.dt:g} s exceeds the CFL limit {limit:.3g} s for n_grid={config.n_grid} "
                              f"and these materials; use a smaller dt (stable_dt() suggests {limit * 0.4:.3g})")
        d, n = config.dim, config.n_grid + 1
        self.n_nodes = n**d
        self.node_shape = (n,) * d
        self.offsets = np.array(list(product(range(3), repeat=d)), dtype=np.int64)  # (K, d)
        self.strides = np.array([n ** (d - 1 - a) for a in range(d)], dtype=np.int64)
        coords = np.stack(np.meshgrid(*[np.arange(n)] * d, indexing="ij"), axis=-1).reshape(-1, d)
        self.node_coords = coords  # (n^d, d) integer node coordinates
        pad = config.padding
        self._lower = [coords[:, a] <= pad for a in range(d)]
        self._upper = [coords[:, a] >= config.n_grid - pad for a in range(d)]
        self._wall = np.zeros(self.n_nodes, dtype=bool)
        for a in range(d):
            self._wall |= self._lower[a] | self._upper[a]

    # ------------------------------------------------------------------ checks
    def check_state(self, state: ParticleState) -> None:
        """Raise DataError if positions/velocities are not finite or particles left the box."""
        d = self.config.dim
        if state.x.shape[1:] != (d,):
            raise DataError(f"particles are {state.x.shape[1]}-D but the simulator is {d}-D")
        if not np.isfinite(state.x).all():
            raise DataError(f"particle positions contain NaN/inf ({int((~np.isfinite(state.x)).any(axis=1).sum())} particles)")
        if not np.isfinite(state.v).all():
            raise DataError("particle velocities contain NaN/inf")
        if self.config.boundary == "none":
            lo, hi = 0.5 * self.config.dx, 1.0 - 1.5 * self.config.dx
            where = "the grid"
        else:
            lo, hi = self.config.wall_box()[0, 0], self.config.wall_box()[1, 0]
            where = f"the wall box [{lo:.4g}, {hi:.4g}]^{d}"
        outside = ((state.x < lo) | (state.x > hi)).any(axis=1)
        if outside.any():
            raise DataError(f"{int(outside.sum())} particles are outside {where}")

    # ------------------------------------------------------------------ transfers
    def stencil(self, x: np.ndarray) -> Stencil:
        """Quadratic B-spline stencil of positions ``x`` (P, d)."""
        d = x.shape[1]
        xs = x * self.config.n_grid
        base = np.floor(xs - 0.5).astype(np.int64)  # (P, d)
        fx = xs - base  # in [0.5, 1.5)
        weight = None
        dpos = np.empty((d, x.shape[0], len(self.offsets)))
        for a in range(d):
            f = fx[:, a]
            w = np.stack([0.5 * (1.5 - f) ** 2, 0.75 - (f - 1.0) ** 2, 0.5 * (f - 0.5) ** 2], axis=1)  # (P, 3)
            o = self.offsets[:, a]
            weight = w[:, o] if weight is None else weight * w[:, o]
            np.multiply(o[None, :] - f[:, None], self.config.dx, out=dpos[a])
        node = (base @ self.strides)[:, None] + (self.offsets @ self.strides)[None, :]  # (P, K)
        return Stencil(node=node, weight=weight, dpos=dpos)

    def _scatter(self, node: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.bincount(node.ravel(), weights=values.ravel(), minlength=self.n_nodes)

    def p2g(self, state: ParticleState, stencil: Optional[Stencil] = None,
            stress: bool = True) -> tuple:
        """Particle-to-grid transfer.

        Returns
        -------
        grid_mass : (n^d,) node masses. grid_momentum : (n^d, d) node momenta, including
            the stress impulse ``-dt V (4/dx^2) tau (x_i - x_p)`` when ``stress``.
        """
        s = self.stencil(state.x) if stencil is None else stencil
        d = state.x.shape[1]
        m = state.mass
        A = m[:, None, None] * state.C
        if stress:
            A = A - (self.config.dt * 4.0 * self.config.n_grid**2) * state.volume[:, None, None] * self.kirchhoff(state)
        wm = s.weight * m[:, None]  # (P, K)
        grid_mass = self._scatter(s.node, wm)
        grid_mom = np.empty((self.n_nodes, d))
        for a in range(d):
            # w (m v_a + sum_b A_ab dpos_b), summed per node
            mom = (m * state.v[:, a])[:, None] + A[:, a, 0, None] * s.dpos[0]
            for b in range(1, d):
                mom += A[:, a, b, None] * s.dpos[b]
            grid_mom[:, a] = self._scatter(s.node, mom * s.weight)
        return grid_mass, grid_mom

    def kirchhoff(self, state: ParticleState) -> np.ndarray:
        """(P, d, d) Kirchhoff stress of every particle from its material."""
        tau = np.empty_like(state.F)
        for mid, sel in self._groups(state.material):
            tau[sel] = self.materials[mid].kirchhoff(state.F[sel], state.C[sel])
        return tau

    def grid_update(self, grid_mass: np.ndarray, grid_mom: np.ndarray, gravity: bool = True) -> np.ndarray:
        """Node velocities (n^d, d): momentum / mass, plus gravity, then wall conditions."""
        cfg = self.config
        active = grid_mass > 0
        v = np.zeros_like(grid_mom)
        v[active] = grid_mom[active] / grid_mass[active, None]
        if gravity:
            v[active] += cfg.dt * cfg.gravity_vector
        if cfg.boundary == "sticky":
            v[self._wall] = 0.0
        elif cfg.boundary == "slip":
            for a in range(cfg.dim):
                for mask, sign in ((self._lower[a], -1.0), (self._upper[a], 1.0)):
                    hit = mask & (sign * v[:, a] > 0)
                    if not hit.any():
                        continue
                    vn = np.abs(v[hit, a])
                    v[hit, a] = 0.0
                    if cfg.friction > 0:
                        vt = v[hit]
                        speed = np.linalg.norm(vt, axis=1)
                        scale = np.maximum(0.0, 1.0 - cfg.friction * vn / np.maximum(speed, 1e-30))
                        v[hit] = vt * scale[:, None]
        return v

    def g2p(self, state: ParticleState, grid_v: np.ndarray, stencil: Optional[Stencil] = None,
            advect: bool = True) -> ParticleState:
        """Grid-to-particle transfer: new v, C, F (with plastic projection) and x (in place)."""
        s = self.stencil(state.x) if stencil is None else stencil
        d = state.x.shape[1]
        P = state.x.shape[0]
        scale = 4.0 * self.config.n_grid**2
        v = np.empty((P, d))
        C = np.empty((P, d, d))
        for a in range(d):
            wv = np.take(np.ascontiguousarray(grid_v[:, a]), s.node) * s.weight  # (P, K)
            v[:, a] = wv.sum(axis=1)
            for b in range(d):
                C[:, a, b] = np.einsum("pk,pk->p", wv, s.dpos[b])
        C *= scale
        state.v, state.C = v, C
        if advect:
            F = state.F + self.config.dt * small_matmul(C, state.F)
            for mid, sel in self._groups(state.material):
                F[sel] = self.materials[mid].project(F[sel])
            state.F = F
            x = state.x + self.config.dt * v
            if self.config.boundary != "none":
                # Last line of defence: the grid walls stop particles ~0.5 cell before the
                # wall plane; a fast impact can overshoot by a fraction of a cell.
                box = self.config.wall_box()
                np.clip(x, box[0], box[1], out=x)
            state.x = x
            state.time += self.config.dt
        return state

    def substep(self, state: ParticleState) -> ParticleState:
        """Advance ``state`` by one ``dt`` (in place; also returned)."""
        s = self.stencil(state.x)
        grid_mass, grid_mom = self.p2g(state, s)
        grid_v = self.grid_update(grid_mass, grid_mom)
        self.g2p(state, grid_v, s)
        self._guard(state)
        return state

    def run(self, state: ParticleState, n_steps: int) -> ParticleState:
        """Advance ``n_steps`` substeps."""
        for _ in range(int(n_steps)):
            self.substep(state)
        return state

    def _guard(self, state: ParticleState) -> None:
        if not np.isfinite(state.x).all() or not np.isfinite(state.v).all():
            raise DataError(f"MPM simulation diverged (NaN/inf) at t={state.time:.4g} s; reduce dt (see stable_dt)")
        lo, hi = 0.5 * self.config.dx, 1.0 - 1.5 * self.config.dx
        if (state.x < lo).any() or (state.x > hi).any():
            raise DataError(f"particles left the MPM grid at t={state.time:.4g} s (boundary={self.config.boundary!r})")

    def _groups(self, material: np.ndarray):
        """(id, selector) per material present: a slice when contiguous, else an index array."""
        cached = getattr(self, "_group_cache", None)
        if cached is not None and cached[0] is material:
            return cached[1]
        groups = []
        for mid in np.unique(material).tolist():
            idx = np.flatnonzero(material == mid)
            sel = slice(int(idx[0]), int(idx[-1]) + 1) if idx[-1] - idx[0] + 1 == len(idx) else idx
            groups.append((mid, sel))
        self._group_cache = (material, groups)
        return groups

    # ------------------------------------------------------------------ diagnostics
    def energies(self, state: ParticleState) -> Dict[str, float]:
        """Kinetic, gravitational (relative to height 0) and stored elastic energy (J)."""
        kinetic = 0.5 * float(np.sum(state.mass * np.sum(state.v**2, axis=1)))
        gravitational = float(np.sum(state.mass * self.config.gravity * state.x[:, -1]))
        elastic = 0.0
        for mid, sel in self._groups(state.material):
            elastic += float(np.sum(state.volume[sel] * self.materials[mid].energy_density(state.F[sel])))
        return {"kinetic": kinetic, "gravitational": gravitational, "elastic": elastic,
                "total": kinetic + gravitational + elastic}
