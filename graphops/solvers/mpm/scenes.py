"""Random MPM scenes: a few objects (boxes, disks/balls, random polygons/polytopes) of
jelly, fluid or sand, filled with particles on a jittered lattice, with random initial
velocities. Everything is drawn from ``numpy.random.default_rng(seed)``, so a
(config, seed) pair always gives the same scene.

Scene config (a plain dict; every key optional)::

    dim            2 or 3                                   (2)
    n_particles    target particle count                    (2000)
    n_grid         cells per side, or "auto": grid spacing = 2 x particle spacing,
                   i.e. 4 particles per cell in 2D, 8 in 3D  ("auto")
    materials      names to draw each object's material from ["jelly", "fluid", "sand"]
    shapes         names to draw shapes from                 ["box", "disk", "polygon"]
                   (in 3D "disk" is a ball and "polygon" a random convex polytope)
    n_objects      int or [lo, hi] inclusive                 ([1, 3])
    fill_fraction  float or [lo, hi]: volume of all objects / volume of the unit box
                   (objects are shrunk if they do not fit)   ([0.08, 0.2] 2D, [0.03, 0.08] 3D)
    velocity_scale largest initial speed of an object (m/s)  (1.5)
    spin_scale     largest initial angular speed (rad/s)     (2.0)
    jitter         lattice jitter as a fraction of the spacing ([0, 1))  (0.3)
    boundary       "slip" | "sticky"                         ("slip")
    friction       Coulomb friction of slip walls            (0.3)
    padding        wall thickness in cells                   (3)
    gravity        m/s^2                                     (9.81)
    material_params {"jelly": {"E": ...}, ...} overrides of the material defaults

Objects never overlap (rejection sampling on bounding spheres) and lie inside the
wall box with one grid cell to spare.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from graphops.errors import ConfigError
from graphops.solvers.mpm.materials import MATERIAL_IDS, Material, make_material

SHAPES = ("box", "disk", "polygon")

DEFAULTS: Dict[str, Any] = {
    "dim": 2,
    "n_particles": 2000,
    "n_grid": "auto",
    "materials": ["jelly", "fluid", "sand"],
    "shapes": list(SHAPES),
    "n_objects": [1, 3],
    "fill_fraction": None,  # [0.08, 0.2] in 2D, [0.03, 0.08] in 3D
    "velocity_scale": 1.5,
    "spin_scale": 2.0,
    "jitter": 0.3,
    "boundary": "slip",
    "friction": 0.3,
    "padding": 3,
    "gravity": 9.81,
    "material_params": {},
}


@dataclass
class Scene:
    """A generated scene, ready for :func:`graphops.solvers.mpm.trajectories.run_scene`.

    Attributes
    ----------
    x : (P, d) float64 positions. v : (P, d) float64 initial velocities.
    material : (P,) int64 material ids (``MATERIAL_IDS``), sorted ascending.
    object_id : (P,) int64 index of the object each particle belongs to.
    particle_volume : reference volume of one particle (m^d).
    materials : id -> Material used in the scene.
    n_grid, padding, boundary, friction, gravity : simulator settings.
    """

    x: np.ndarray
    v: np.ndarray
    material: np.ndarray
    object_id: np.ndarray
    particle_volume: float
    materials: Dict[int, Material]
    n_grid: int
    padding: int
    boundary: str
    friction: float
    gravity: float

    @property
    def dim(self) -> int:
        return self.x.shape[1]


def parse_scene_config(config: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Defaults + ``config``, validated. Raises ConfigError naming the bad key."""
    config = dict(config or {})
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown MPM scene key(s) {', '.join(unknown)} (allowed: {', '.join(DEFAULTS)})")
    cfg = {**DEFAULTS, **config}
    if cfg["dim"] not in (2, 3):
        raise ConfigError(f"scene dim must be 2 or 3, got {cfg['dim']!r}")
    if not isinstance(cfg["n_particles"], (int, np.integer)) or not 10 <= cfg["n_particles"] <= 5_000_000:
        raise ConfigError(f"scene n_particles must be an integer in [10, 5e6], got {cfg['n_particles']!r}")
    if cfg["n_grid"] != "auto" and (not isinstance(cfg["n_grid"], (int, np.integer)) or not 8 <= cfg["n_grid"] <= 1024):
        raise ConfigError(f"scene n_grid must be 'auto' or an integer in [8, 1024], got {cfg['n_grid']!r}")
    for key, allowed in (("materials", tuple(MATERIAL_IDS)), ("shapes", SHAPES)):
        names = [cfg[key]] if isinstance(cfg[key], str) else list(cfg[key])
        bad = [n for n in names if n not in allowed]
        if not names or bad:
            raise ConfigError(f"scene {key} must be a non-empty list from {', '.join(allowed)}, got {cfg[key]!r}")
        cfg[key] = names
    cfg["n_objects"] = _int_range("n_objects", cfg["n_objects"], 1, 50)
    if cfg["fill_fraction"] is None:
        cfg["fill_fraction"] = [0.08, 0.2] if cfg["dim"] == 2 else [0.03, 0.08]
    cfg["fill_fraction"] = _float_range("fill_fraction", cfg["fill_fraction"], 1e-4, 0.5)
    for key in ("velocity_scale", "spin_scale", "friction"):
        if not (isinstance(cfg[key], (int, float)) and math.isfinite(cfg[key]) and cfg[key] >= 0):
            raise ConfigError(f"scene {key} must be a finite number >= 0, got {cfg[key]!r}")
    if not (isinstance(cfg["jitter"], (int, float)) and 0 <= cfg["jitter"] < 1):
        raise ConfigError(f"scene jitter must be in [0, 1), got {cfg['jitter']!r}")
    if cfg["boundary"] not in ("slip", "sticky"):
        raise ConfigError(f"scene boundary must be 'slip' or 'sticky', got {cfg['boundary']!r}")
    if not isinstance(cfg["material_params"], Mapping):
        raise ConfigError("scene material_params must be a mapping material name -> {parameter: value}")
    for name, params in cfg["material_params"].items():
        if not isinstance(params, Mapping):
            raise ConfigError(f"scene material_params[{name!r}] must be a mapping of parameters")
        make_material(name, **params)  # validates name and values
    return cfg


def _int_range(key: str, value: Any, lo: int, hi: int) -> Tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value) if isinstance(value, (list, tuple)) else None
    if pair is None or len(pair) != 2 or not all(isinstance(p, (int, np.integer)) for p in pair) \
            or not lo <= pair[0] <= pair[1] <= hi:
        raise ConfigError(f"scene {key} must be an integer or [lo, hi] within [{lo}, {hi}], got {value!r}")
    return int(pair[0]), int(pair[1])


def _float_range(key: str, value: Any, lo: float, hi: float) -> Tuple[float, float]:
    pair = (value, value) if isinstance(value, (int, float)) else tuple(value) if isinstance(value, (list, tuple)) else None
    if pair is None or len(pair) != 2 or not all(isinstance(p, (int, float)) and math.isfinite(p) for p in pair) \
            or not lo <= pair[0] <= pair[1] <= hi:
        raise ConfigError(f"scene {key} must be a number or [lo, hi] within [{lo}, {hi}], got {value!r}")
    return float(pair[0]), float(pair[1])


# ---------------------------------------------------------------- shapes
class _Shape:
    """A solid in local coordinates centred at 0, with its volume and bounding radius."""

    volume: float
    radius: float

    def contains(self, p: np.ndarray) -> np.ndarray:  # (n, d) -> (n,) bool
        raise NotImplementedError


class _Box(_Shape):
    def __init__(self, half: np.ndarray) -> None:
        self.half = half
        self.volume = float(np.prod(2 * half))
        self.radius = float(np.linalg.norm(half))

    def contains(self, p: np.ndarray) -> np.ndarray:
        return (np.abs(p) <= self.half).all(axis=1)


class _Ball(_Shape):
    def __init__(self, r: float, d: int) -> None:
        self.r = r
        self.volume = math.pi * r**2 if d == 2 else 4.0 / 3.0 * math.pi * r**3
        self.radius = r

    def contains(self, p: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", p, p) <= self.r**2


class _StarPolygon(_Shape):
    """2D star-shaped polygon: sorted random angles, random radii in [0.55, 1] x r."""

    def __init__(self, vertices: np.ndarray) -> None:
        self.vertices = vertices
        x, y = vertices[:, 0], vertices[:, 1]
        self.volume = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
        self.radius = float(np.linalg.norm(vertices, axis=1).max())

    def contains(self, p: np.ndarray) -> np.ndarray:
        # Crossing-number test, vectorised over points, looped over the few edges.
        inside = np.zeros(len(p), dtype=bool)
        a = self.vertices
        b = np.roll(a, -1, axis=0)
        for (x0, y0), (x1, y1) in zip(a, b):
            crosses = (y0 > p[:, 1]) != (y1 > p[:, 1])
            with np.errstate(divide="ignore", invalid="ignore"):
                xc = x0 + (p[:, 1] - y0) * (x1 - x0) / (y1 - y0)
            inside ^= crosses & (p[:, 0] < xc)
        return inside


class _ConvexPolytope(_Shape):
    """3D convex hull of points in random directions (and +-axes) at random radii."""

    def __init__(self, points: np.ndarray) -> None:
        from scipy.spatial import ConvexHull

        hull = ConvexHull(points)
        self.equations = hull.equations  # (m, 4): n . p + c <= 0 inside
        self.volume = float(hull.volume)
        self.radius = float(np.linalg.norm(points, axis=1).max())

    def contains(self, p: np.ndarray) -> np.ndarray:
        return (p @ self.equations[:, :3].T + self.equations[:, 3] <= 0).all(axis=1)


def _random_rotation(rng: np.random.Generator, d: int) -> np.ndarray:
    if d == 2:
        t = rng.uniform(0, 2 * math.pi)
        return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def _make_shape(kind: str, volume: float, d: int, rng: np.random.Generator) -> _Shape:
    """A shape of the given kind scaled to ``volume``."""
    if kind == "box":
        aspect = np.exp(rng.uniform(-0.7, 0.7, size=d))
        aspect /= np.prod(aspect) ** (1.0 / d)
        side = volume ** (1.0 / d)
        return _Box(0.5 * side * aspect)
    if kind == "disk":
        r = math.sqrt(volume / math.pi) if d == 2 else (3.0 * volume / (4.0 * math.pi)) ** (1.0 / 3.0)
        return _Ball(r, d)
    if d == 2:
        n = int(rng.integers(5, 10))
        step = 2 * math.pi / n
        angles = rng.uniform(0, 2 * math.pi) + step * (np.arange(n) + rng.uniform(-0.35, 0.35, size=n))
        radii = rng.uniform(0.55, 1.0, size=n)
        unit = _StarPolygon(np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1))
        return _StarPolygon(unit.vertices * math.sqrt(volume / unit.volume))
    n = int(rng.integers(4, 10))
    dirs = rng.normal(size=(n, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    dirs = np.concatenate([np.eye(3), -np.eye(3), dirs])  # the axes keep the origin inside
    unit = _ConvexPolytope(dirs * rng.uniform(0.6, 1.0, size=(len(dirs), 1)))
    return _scaled_polytope(unit, (volume / unit.volume) ** (1.0 / 3.0))


def _scaled_polytope(unit: _ConvexPolytope, scale: float) -> _ConvexPolytope:
    """``unit`` scaled by ``scale`` about the origin."""
    shape = _ConvexPolytope.__new__(_ConvexPolytope)
    eq = unit.equations.copy()
    eq[:, 3] *= scale
    shape.equations = eq
    shape.volume = unit.volume * scale**3
    shape.radius = unit.radius * scale
    return shape


def _fill(shape: _Shape, rotation: np.ndarray, centre: np.ndarray, h: float, jitter: float,
          rng: np.random.Generator) -> np.ndarray:
    """Jittered lattice points (n, d) of spacing ``h`` inside the placed shape."""
    d = len(centre)
    r = shape.radius
    n = int(math.ceil(r / h)) + 1
    ticks = (np.arange(-n, n + 1) + rng.uniform(-0.5, 0.5)) * h
    grid = np.stack(np.meshgrid(*[ticks] * d, indexing="ij"), axis=-1).reshape(-1, d)
    grid = grid[np.einsum("ij,ij->i", grid, grid) <= r * r]
    if jitter > 0:
        grid = grid + rng.uniform(-0.5 * jitter * h, 0.5 * jitter * h, size=grid.shape)
    local = grid @ rotation  # rotate lattice points into the shape's frame
    return centre + grid[shape.contains(local)]


def make_scene(config: Optional[Mapping[str, Any]], seed: int) -> Scene:
    """Sample a random scene.

    Parameters
    ----------
    config : scene config (see the module docstring); ``None`` for defaults.
    seed : integer seed of ``numpy.random.default_rng``.

    Returns
    -------
    Scene with about ``n_particles`` particles (the lattice count of the sampled
    shapes; typically within a few percent).
    """
    cfg = parse_scene_config(config)
    rng = np.random.default_rng(seed)
    d = cfg["dim"]
    padding = int(cfg["padding"])
    n_obj = int(rng.integers(cfg["n_objects"][0], cfg["n_objects"][1] + 1))
    total = float(rng.uniform(*cfg["fill_fraction"]))  # the unit box has volume 1
    # Provisional grid (from the nominal volume) for the placement margin; shrinking a
    # crowded object below only refines the final grid, so the margin stays valid.
    n_grid = _grid_size(cfg, total)
    if not 2 <= padding < n_grid // 2 - 1:
        raise ConfigError(f"scene padding must be in [2, n_grid/2 - 1), got {padding} for n_grid={n_grid}")
    lo = (padding + 1.0) / n_grid
    hi = 1.0 - lo
    fractions = rng.dirichlet(np.full(n_obj, 2.0))
    kinds = [(cfg["materials"][int(rng.integers(len(cfg["materials"])))],
              cfg["shapes"][int(rng.integers(len(cfg["shapes"])))]) for _ in range(n_obj)]
    for _restart in range(12):
        objects = _place(kinds, fractions * total, d, lo, hi, 1.0 / n_grid, rng)
        if objects is not None:
            break
        total *= 0.75  # too crowded: shrink everything and start over
    else:
        raise ConfigError(f"could not place {n_obj} non-overlapping objects; lower fill_fraction")
    placed_volume = sum(shape.volume for _, shape, _ in objects)
    h = (placed_volume / cfg["n_particles"]) ** (1.0 / d)  # lattice spacing for the target count
    n_grid = max(n_grid, _grid_size(cfg, placed_volume))
    materials_used: Dict[int, Material] = {}
    xs, vs, mats, objs = [], [], [], []
    for k, (name, shape, centre) in enumerate(objects):
        pts = _fill(shape, _random_rotation(rng, d), centre, h, cfg["jitter"], rng)
        vel = rng.normal(size=d)
        vel *= cfg["velocity_scale"] * rng.uniform() / max(np.linalg.norm(vel), 1e-12)
        omega = cfg["spin_scale"] * rng.uniform(-1, 1) if d == 2 else cfg["spin_scale"] * rng.uniform(-1, 1, size=3)
        if len(pts) == 0:
            continue
        rel = pts - pts.mean(axis=0)
        spin = np.stack([-omega * rel[:, 1], omega * rel[:, 0]], axis=1) if d == 2 else np.cross(omega, rel)
        mid = MATERIAL_IDS[name]
        if mid not in materials_used:
            materials_used[mid] = make_material(name, **dict(cfg["material_params"].get(name, {})))
        xs.append(pts)
        vs.append(vel + spin)
        mats.append(np.full(len(pts), mid, dtype=np.int64))
        objs.append(np.full(len(pts), k, dtype=np.int64))
    if not xs:
        raise ConfigError("scene has no particles; raise n_particles or fill_fraction")
    x, v, material, object_id = (np.concatenate(a) for a in (xs, vs, mats, objs))
    order = np.argsort(material, kind="stable")  # contiguous material groups: faster stress evaluation
    return Scene(x=x[order], v=v[order], material=material[order], object_id=object_id[order],
                 particle_volume=h**d, materials=materials_used, n_grid=n_grid, padding=padding,
                 boundary=cfg["boundary"], friction=float(cfg["friction"]), gravity=float(cfg["gravity"]))


def _place(kinds, volumes, d, lo, hi, gap, rng):
    """Non-overlapping (bounding spheres + ``gap``) shapes in ``[lo, hi]^d``, or None."""
    objects = []
    for (name, kind), volume in zip(kinds, volumes):
        for _attempt in range(100):
            shape = _make_shape(kind, float(volume), d, rng)
            r = shape.radius
            if 2 * r >= hi - lo:
                return None
            centre = rng.uniform(lo + r, hi - r, size=d)
            if all(np.linalg.norm(centre - c) > r + other.radius + gap for _, other, c in objects):
                objects.append((name, shape, centre))
                break
        else:
            return None
    return objects


def _grid_size(cfg: Mapping[str, Any], volume: float) -> int:
    """Cells per side: the configured value, or grid spacing = 2 x lattice spacing."""
    if cfg["n_grid"] != "auto":
        return int(cfg["n_grid"])
    h = (volume / cfg["n_particles"]) ** (1.0 / cfg["dim"])
    return int(np.clip(round(1.0 / (2.0 * h)), 16, 512))


def box_scene(lower: Sequence[float], upper: Sequence[float], material: str = "jelly", n_grid: int = 64,
              particles_per_cell_side: int = 2, velocity: Optional[Sequence[float]] = None,
              boundary: str = "slip", friction: float = 0.0, gravity: float = 9.81, padding: int = 3,
              material_params: Optional[Mapping[str, float]] = None) -> Scene:
    """A single axis-aligned block on a regular lattice centred in it (for tests and examples).

    Parameters
    ----------
    lower, upper : (d,) corners of the block. material : material name.
    n_grid : cells per side. particles_per_cell_side : lattice points per cell and axis.
    velocity : (d,) initial velocity (zero if None).
    """
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    d = len(lower)
    h = 1.0 / (n_grid * particles_per_cell_side)
    counts = [max(1, int(round((hi - lo) / h))) for lo, hi in zip(lower, upper)]
    axes = [0.5 * (lo + hi) + (np.arange(n) - 0.5 * (n - 1)) * h for lo, hi, n in zip(lower, upper, counts)]
    x = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
    mat = make_material(material, **dict(material_params or {}))
    v = np.zeros_like(x) if velocity is None else np.broadcast_to(np.asarray(velocity, float), x.shape).copy()
    n = len(x)
    return Scene(x=x, v=v, material=np.full(n, mat.id, dtype=np.int64), object_id=np.zeros(n, dtype=np.int64),
                 particle_volume=h**d, materials={mat.id: mat}, n_grid=n_grid, padding=padding,
                 boundary=boundary, friction=friction, gravity=gravity)
