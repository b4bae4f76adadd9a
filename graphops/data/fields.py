"""Random smooth input fields for the dataset problems (sources, boundary data, coefficients).

Every field is drawn from a ``numpy.random.Generator`` and returned as a
callable ``fn(x)`` with ``x`` of shape ``(d, ...)`` (the convention of
:mod:`graphops.solvers`), so it can be evaluated at mesh nodes with
``fn(points.T)``. Coordinates are first mapped to the unit box of the domain,
``xh = (x - lo) / (hi - lo)`` with the domain's bounding box ``[lo, hi]``.

Distributions
-------------
Source ``f`` (:func:`random_source`)
    ``sum_{j=1..J} A_j exp(-|xh - c_j|^2 / (2 s_j^2))  +  sum_k a_k cos(2 pi k.xh) + b_k sin(2 pi k.xh)``
    with ``J ~ U{1..4}`` bumps, amplitudes ``A_j ~ U(-10, 10)``, centres
    ``c_j ~ U[0, 1]^d``, widths ``s_j ~ U(0.05, 0.2)``; the Fourier sum runs over
    the integer wave vectors ``k`` in ``{0, 1, 2}^d`` without 0 and
    ``a_k, b_k ~ N(0, (3 / |k|^2)^2)``.
Boundary data ``g`` (:func:`random_boundary`)
    ``p_0 + sum_i p_i xh_i + sum_{i<=j} q_ij xh_i xh_j + sum_k a_k cos(2 pi k.xh) + b_k sin(2 pi k.xh)``
    with ``p, q ~ N(0, 1)`` and ``a_k, b_k ~ N(0, (0.5 / |k|^2)^2)`` for ``k`` in
    ``{0, 1}^d`` without 0 (one period at most across the domain).
Coefficient ``a`` (:func:`random_coefficient`)
    ``exp(ln(2) tanh(F(xh)))`` where ``F`` is a Fourier series like that of ``g``
    (amplitude scale 1), so
    ``0.5 < a < 2``.
"""
from __future__ import annotations

import itertools
from typing import Callable

import numpy as np

FieldFn = Callable[[np.ndarray], np.ndarray]


def _unit(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    shape = (-1,) + (1,) * (np.ndim(x) - 1)
    return (np.asarray(x, dtype=np.float64) - lo.reshape(shape)) / span.reshape(shape)


def _wave_vectors(dim: int, kmax: int) -> np.ndarray:
    ks = [k for k in itertools.product(range(kmax + 1), repeat=dim) if any(k)]
    return np.asarray(ks, dtype=np.float64)


def _fourier(rng: np.random.Generator, dim: int, kmax: int, scale: float):
    ks = _wave_vectors(dim, kmax)
    std = scale / (ks**2).sum(axis=1)
    a = rng.normal(0.0, std)
    b = rng.normal(0.0, std)

    def fn(xh: np.ndarray) -> np.ndarray:
        phase = 2.0 * np.pi * np.tensordot(ks, xh, axes=(1, 0))  # (K, ...)
        shape = (-1,) + (1,) * (phase.ndim - 1)
        return (a.reshape(shape) * np.cos(phase) + b.reshape(shape) * np.sin(phase)).sum(axis=0)

    return fn


def random_source(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> FieldFn:
    """Gaussian bumps plus a low-frequency Fourier series (see the module docstring).

    Parameters
    ----------
    rng : numpy.random.Generator
    lo, hi : ndarray, shape (d,)
        Bounding box of the domain.

    Returns
    -------
    callable
        ``f(x)``, ``x`` of shape ``(d, ...)`` -> ``(...)``.
    """
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    dim = len(lo)
    num = int(rng.integers(1, 5))
    amp = rng.uniform(-10.0, 10.0, size=num)
    centre = rng.uniform(0.0, 1.0, size=(num, dim))
    width = rng.uniform(0.05, 0.2, size=num)
    wave = _fourier(rng, dim, 2, 3.0)

    def f(x: np.ndarray) -> np.ndarray:
        xh = _unit(x, lo, hi)
        out = wave(xh)
        shape = (-1,) + (1,) * (xh.ndim - 1)
        for j in range(num):
            r2 = ((xh - centre[j].reshape(shape)) ** 2).sum(axis=0)
            out = out + amp[j] * np.exp(-r2 / (2.0 * width[j] ** 2))
        return out

    return f


def random_boundary(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> FieldFn:
    """Quadratic polynomial plus a one-period Fourier series (see the module docstring)."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    dim = len(lo)
    p0 = rng.normal()
    p1 = rng.normal(size=dim)
    pairs = [(i, j) for i in range(dim) for j in range(i, dim)]
    q = rng.normal(size=len(pairs))
    wave = _fourier(rng, dim, 1, 0.5)

    def g(x: np.ndarray) -> np.ndarray:
        xh = _unit(x, lo, hi)
        out = p0 + wave(xh)
        for i in range(dim):
            out = out + p1[i] * xh[i]
        for c, (i, j) in zip(q, pairs):
            out = out + c * xh[i] * xh[j]
        return out

    return g


def random_coefficient(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> FieldFn:
    """Smooth positive coefficient ``exp(ln(2) tanh(F))`` in ``(0.5, 2)``."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    wave = _fourier(rng, len(lo), 1, 1.0)

    def a(x: np.ndarray) -> np.ndarray:
        return np.exp(np.log(2.0) * np.tanh(wave(_unit(x, lo, hi))))

    return a
