"""Constitutive models for the MLS-MPM simulator: elastic jelly, Newtonian fluid, sand.

Every model maps a batch of deformation gradients ``F`` (n, d, d) (and the APIC
velocity gradient ``C`` (n, d, d), used for viscosity) to the Kirchhoff stress
``tau = P F^T = J sigma`` (n, d, d), which is what the MLS-MPM particle-to-grid
transfer needs. Plastic models also provide ``project(F)``, the return mapping that
is applied after each deformation update; elastic jelly returns ``F`` unchanged and
the fluid forgets shear by resetting ``F`` to ``J^(1/d) I``.

Units are SI (Pa, kg/m^3, Pa s); the simulated domain is the unit box, so a metre is
the box side. Default parameters are chosen so that every model has a sound speed
of 10-15 m/s, which keeps the stable time step near 3e-4 s on a 64-cell grid.

Models (standard forms from the MPM literature):

- ``ElasticJelly``: fixed-corotated hyperelasticity (Stomakhin et al. 2012),
  ``psi = mu sum (s_i - 1)^2 + lambda/2 (J - 1)^2``,
  ``tau = 2 mu (F - R) F^T + lambda (J - 1) J I`` with ``R`` the rotation of ``F``.
- ``NewtonianFluid``: weakly compressible fluid, Tait-like equation of state on
  ``J = det F``: ``p = K/gamma (J^-gamma - 1)`` (so ``K`` is the bulk modulus at rest)
  plus a Newtonian viscous stress ``2 eta dev(sym C)``;
  ``tau = J (-p I + 2 eta dev(sym C))``.
- ``DruckerPragerSand``: Hencky-strain St Venant-Kirchhoff elasticity,
  ``tau = U (2 mu eps + lambda tr(eps) I) U^T`` with ``eps = log(s)``, and the
  Drucker-Prager return mapping on ``eps`` of Klar et al. 2016 (no cohesion, no
  hardening): expansion projects to the cone tip (``s = 1``), shear beyond the cone
  ``||dev eps|| + (d lambda + 2 mu)/(2 mu) tr(eps) alpha <= 0`` is projected back onto
  it, with ``alpha = sqrt(2/3) 2 sin(phi) / (3 - sin(phi))`` for friction angle phi.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Tuple

import numpy as np

from graphops.errors import ConfigError

#: Stable material ids written into datasets (never renumber).
MATERIAL_IDS: Dict[str, int] = {"jelly": 0, "fluid": 1, "sand": 2}


def svd_signed(F: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched SVD ``F = U diag(s) Vt`` with ``U`` and ``Vt`` proper rotations.

    The last singular value carries the sign of ``det F`` (the "signed" SVD used
    by MPM codes so that inverted elements are pushed back, not reflected).

    Parameters
    ----------
    F : (n, d, d) float array, d in {2, 3}

    Returns
    -------
    U : (n, d, d), s : (n, d), Vt : (n, d, d)
    """
    d = F.shape[-1]
    if d == 2:
        return _svd_2d(F)
    U, s, Vt = np.linalg.svd(F)
    # Make both factors rotations; move any reflection into the last singular value.
    du = np.linalg.det(U) < 0
    dv = np.linalg.det(Vt) < 0
    U[du, :, -1] *= -1
    s[du, -1] *= -1
    Vt[dv, -1, :] *= -1
    s[dv, -1] *= -1
    return U, s, Vt


def _svd_2d(F: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form signed SVD of (n, 2, 2) stacks without trigonometric calls.

    Writing ``F = [[a, b], [c, e]]``, ``F = rot(phi) diag(q + r, q - r) rot(psi)`` with
    ``q e^{i t2} = (a + e)/2 + i (c - b)/2``, ``r e^{i t1} = (a - e)/2 + i (c + b)/2``,
    ``phi = (t1 + t2)/2`` and ``psi = t2 - phi``. The half angle comes from the
    principal square root of ``e^{i (t1 + t2)}``; picking the other root negates both
    rotations, which leaves the product unchanged.
    """
    a, b, c, e = F[:, 0, 0], F[:, 0, 1], F[:, 1, 0], F[:, 1, 1]
    x2, y2 = 0.5 * (a + e), 0.5 * (c - b)
    x1, y1 = 0.5 * (a - e), 0.5 * (c + b)
    q, r = np.hypot(x2, y2), np.hypot(x1, y1)
    # unit complex numbers e^{i t1}, e^{i t2} (angle 0 when undefined)
    safe_q, safe_r = np.where(q > 0, q, 1.0), np.where(r > 0, r, 1.0)
    c2, s2 = np.where(q > 0, x2 / safe_q, 1.0), y2 / safe_q
    c1, s1 = np.where(r > 0, x1 / safe_r, 1.0), y1 / safe_r
    cz, sz = c1 * c2 - s1 * s2, s1 * c2 + c1 * s2  # e^{i (t1 + t2)}
    cp = np.sqrt(np.clip(0.5 * (1.0 + cz), 0.0, 1.0))
    sp = np.sqrt(np.clip(0.5 * (1.0 - cz), 0.0, 1.0))
    sp = np.where(sz < 0, -sp, sp)
    cv, sv = c2 * cp + s2 * sp, s2 * cp - c2 * sp  # psi = t2 - phi
    U = np.empty(F.shape)
    U[:, 0, 0], U[:, 0, 1], U[:, 1, 0], U[:, 1, 1] = cp, -sp, sp, cp
    Vt = np.empty(F.shape)
    Vt[:, 0, 0], Vt[:, 0, 1], Vt[:, 1, 0], Vt[:, 1, 1] = cv, -sv, sv, cv
    sig = np.empty(F.shape[:-1])
    sig[:, 0] = q + r
    sig[:, 1] = q - r
    return U, sig, Vt


def small_matmul(A: np.ndarray, B: np.ndarray, transpose_b: bool = False) -> np.ndarray:
    """Batched ``A @ B`` (or ``A @ B^T``) of (n, d, d) stacks with tiny d.

    Unrolled over the d^3 products: several times faster than ``np.matmul`` on stacks
    of 2x2/3x3 matrices (numpy has no batched small-matrix kernel).
    """
    d = A.shape[-1]
    out = np.empty(A.shape)
    for i in range(d):
        for k in range(d):
            acc = A[:, i, 0] * (B[:, k, 0] if transpose_b else B[:, 0, k])
            for j in range(1, d):
                acc += A[:, i, j] * (B[:, k, j] if transpose_b else B[:, j, k])
            out[:, i, k] = acc
    return out


def determinant(F: np.ndarray) -> np.ndarray:
    """(n,) determinants of (n, d, d) stacks, d in {2, 3}."""
    if F.shape[-1] == 2:
        return F[:, 0, 0] * F[:, 1, 1] - F[:, 0, 1] * F[:, 1, 0]
    return np.linalg.det(F)


def rotation_part(F: np.ndarray) -> np.ndarray:
    """(n, d, d) rotation ``R`` of the polar decomposition ``F = R S``."""
    if F.shape[-1] == 2:
        # R = rot(theta) with theta = atan2(F10 - F01, F00 + F11): no trigonometry needed.
        cs = F[:, 0, 0] + F[:, 1, 1]
        sn = F[:, 1, 0] - F[:, 0, 1]
        norm = np.hypot(cs, sn)
        degenerate = norm < 1e-300
        norm[degenerate] = 1.0
        cs = np.where(degenerate, 1.0, cs / norm)
        sn = np.where(degenerate, 0.0, sn / norm)
        R = np.empty(F.shape)
        R[:, 0, 0] = cs
        R[:, 0, 1] = -sn
        R[:, 1, 0] = sn
        R[:, 1, 1] = cs
        return R
    U, _, Vt = svd_signed(F)
    return small_matmul(U, Vt)


def lame(E: float, nu: float) -> Tuple[float, float]:
    """Lame parameters ``(mu, lambda)`` from Young's modulus and Poisson's ratio."""
    return E / (2.0 * (1.0 + nu)), E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))


def _positive(name: str, value: float, material: str) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigError(f"material '{material}': {name} must be a positive finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Material:
    """Base class: a constitutive model with a density (kg/m^3)."""

    density: float = 1000.0
    name: str = field(default="", init=False)

    @property
    def id(self) -> int:
        """Stable integer id of this model (``MATERIAL_IDS``)."""
        return MATERIAL_IDS[self.name]

    def wave_speed(self) -> float:
        """Largest elastic wave speed at rest (m/s), for the CFL time step."""
        raise NotImplementedError

    def kirchhoff(self, F: np.ndarray, C: np.ndarray) -> np.ndarray:
        """Kirchhoff stress ``tau`` (n, d, d) from ``F`` (n, d, d) and ``C`` (n, d, d)."""
        raise NotImplementedError

    def project(self, F: np.ndarray) -> np.ndarray:
        """Plastic return mapping of an updated ``F`` (n, d, d); identity by default."""
        return F

    def energy_density(self, F: np.ndarray) -> np.ndarray:
        """Stored energy per unit reference volume (n,) (J/m^3)."""
        raise NotImplementedError


@dataclass(frozen=True)
class ElasticJelly(Material):
    """Fixed-corotated elastic solid. ``E`` Young's modulus (Pa), ``nu`` Poisson's ratio."""

    E: float = 1.0e5
    nu: float = 0.3
    name: str = field(default="jelly", init=False)

    def __post_init__(self) -> None:
        _positive("E", self.E, self.name)
        _positive("density", self.density, self.name)
        if not 0.0 <= self.nu < 0.5:
            raise ConfigError(f"material 'jelly': nu must be in [0, 0.5), got {self.nu!r}")

    def wave_speed(self) -> float:
        mu, lam = lame(self.E, self.nu)
        return math.sqrt((lam + 2.0 * mu) / self.density)

    def kirchhoff(self, F: np.ndarray, C: np.ndarray) -> np.ndarray:
        mu, lam = lame(self.E, self.nu)
        J = determinant(F)
        tau = small_matmul(F - rotation_part(F), F, transpose_b=True)
        tau *= 2.0 * mu
        idx = np.arange(F.shape[-1])
        tau[:, idx, idx] += (lam * (J - 1.0) * J)[:, None]
        return tau

    def energy_density(self, F: np.ndarray) -> np.ndarray:
        mu, lam = lame(self.E, self.nu)
        _, s, _ = svd_signed(F)
        J = np.prod(s, axis=-1)
        return mu * np.sum((s - 1.0) ** 2, axis=-1) + 0.5 * lam * (J - 1.0) ** 2


@dataclass(frozen=True)
class NewtonianFluid(Material):
    """Weakly compressible Newtonian fluid.

    ``bulk`` bulk modulus K (Pa), ``gamma`` Tait exponent, ``viscosity`` dynamic
    viscosity eta (Pa s). The sound speed is ``sqrt(K / density)``.
    """

    bulk: float = 2.0e5
    gamma: float = 7.0
    viscosity: float = 0.1
    name: str = field(default="fluid", init=False)

    def __post_init__(self) -> None:
        _positive("bulk", self.bulk, self.name)
        _positive("gamma", self.gamma, self.name)
        _positive("density", self.density, self.name)
        if not (math.isfinite(self.viscosity) and self.viscosity >= 0):
            raise ConfigError(f"material 'fluid': viscosity must be >= 0, got {self.viscosity!r}")

    def wave_speed(self) -> float:
        # Compression stiffens the Tait law (dp/dJ = -K J^(-gamma-1)); allow for J ~ 0.95.
        return math.sqrt(self.bulk / self.density * 0.95 ** (-self.gamma - 1.0))

    def pressure(self, J: np.ndarray) -> np.ndarray:
        """Pressure (Pa) (n,) of the equation of state at volume ratio ``J`` (n,)."""
        return self.bulk / self.gamma * (np.power(J, -self.gamma) - 1.0)

    def kirchhoff(self, F: np.ndarray, C: np.ndarray) -> np.ndarray:
        d = F.shape[-1]
        J = determinant(F)
        idx = np.arange(d)
        if self.viscosity > 0:
            D = 0.5 * (C + np.swapaxes(C, -1, -2))
            D[:, idx, idx] -= (np.trace(D, axis1=-2, axis2=-1) / d)[:, None]
            tau = (2.0 * self.viscosity * J)[:, None, None] * D
        else:
            tau = np.zeros_like(F)
        tau[:, idx, idx] -= (J * self.pressure(J))[:, None]
        return tau

    def project(self, F: np.ndarray) -> np.ndarray:
        d = F.shape[-1]
        J = determinant(F)
        out = np.zeros_like(F)
        idx = np.arange(d)
        out[:, idx, idx] = np.power(np.maximum(J, 1e-6), 1.0 / d)[:, None]
        return out

    def energy_density(self, F: np.ndarray) -> np.ndarray:
        J = determinant(F)
        g, K = self.gamma, self.bulk
        # psi(J) = -int_1^J p dJ, zero at rest.
        if abs(g - 1.0) < 1e-12:
            return K * (J - 1.0 - np.log(J))
        return K / g * ((np.power(J, 1.0 - g) - 1.0) / (g - 1.0) + (J - 1.0))


@dataclass(frozen=True)
class DruckerPragerSand(Material):
    """Cohesionless granular material: Hencky-strain elasticity + Drucker-Prager plasticity.

    ``E`` (Pa), ``nu``, ``friction_angle`` in degrees (internal friction angle phi).
    """

    E: float = 2.0e5
    nu: float = 0.3
    friction_angle: float = 35.0
    density: float = 1500.0
    name: str = field(default="sand", init=False)

    def __post_init__(self) -> None:
        _positive("E", self.E, self.name)
        _positive("density", self.density, self.name)
        if not 0.0 <= self.nu < 0.5:
            raise ConfigError(f"material 'sand': nu must be in [0, 0.5), got {self.nu!r}")
        if not 0.0 < self.friction_angle < 90.0:
            raise ConfigError(f"material 'sand': friction_angle must be in (0, 90) degrees, got {self.friction_angle!r}")

    @property
    def alpha(self) -> float:
        """Drucker-Prager cone coefficient for the friction angle."""
        sphi = math.sin(math.radians(self.friction_angle))
        return math.sqrt(2.0 / 3.0) * 2.0 * sphi / (3.0 - sphi)

    def wave_speed(self) -> float:
        mu, lam = lame(self.E, self.nu)
        return math.sqrt((lam + 2.0 * mu) / self.density)

    def _hencky(self, F: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        U, s, Vt = svd_signed(F)
        return U, np.log(np.maximum(np.abs(s), 1e-6)), Vt

    def kirchhoff(self, F: np.ndarray, C: np.ndarray) -> np.ndarray:
        mu, lam = lame(self.E, self.nu)
        U, eps, _ = self._hencky(F)
        diag = 2.0 * mu * eps + lam * eps.sum(axis=-1, keepdims=True)
        return small_matmul(U * diag[:, None, :], U, transpose_b=True)

    def project(self, F: np.ndarray) -> np.ndarray:
        mu, lam = lame(self.E, self.nu)
        d = F.shape[-1]
        U, eps, Vt = self._hencky(F)
        tr = eps.sum(axis=-1)
        dev = eps - tr[:, None] / d
        dev_norm = np.sqrt(np.sum(dev * dev, axis=-1))
        dgamma = dev_norm + (d * lam + 2.0 * mu) / (2.0 * mu) * tr * self.alpha
        tip = (tr >= 0.0) | (dev_norm <= 1e-14)  # expansion: no tensile strength, back to the tip
        shear = ~tip & (dgamma > 0.0)  # outside the cone: project back onto it
        if not (tip.any() or shear.any()):
            return F
        factor = np.where(shear, dgamma / np.where(dev_norm > 0, dev_norm, 1.0), 0.0)
        new = np.where(tip[:, None], 0.0, eps - factor[:, None] * dev)
        rebuilt = small_matmul(U * np.exp(new)[:, None, :], Vt)
        return np.where((tip | shear)[:, None, None], rebuilt, F)

    def energy_density(self, F: np.ndarray) -> np.ndarray:
        mu, lam = lame(self.E, self.nu)
        _, eps, _ = self._hencky(F)
        return mu * np.sum(eps**2, axis=-1) + 0.5 * lam * eps.sum(axis=-1) ** 2


_MODELS = {"jelly": ElasticJelly, "fluid": NewtonianFluid, "sand": DruckerPragerSand}


def make_material(name: str, **params: float) -> Material:
    """Build a material by name (``"jelly"``, ``"fluid"``, ``"sand"``) with parameter overrides.

    Raises
    ------
    ConfigError
        Unknown material name or parameter, or an invalid value.
    """
    if name not in _MODELS:
        raise ConfigError(f"unknown material '{name}' (choose from {', '.join(_MODELS)})")
    cls = _MODELS[name]
    allowed = {f for f in cls.__dataclass_fields__ if cls.__dataclass_fields__[f].init}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ConfigError(f"material '{name}': unknown parameter(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")
    return cls(**params)
