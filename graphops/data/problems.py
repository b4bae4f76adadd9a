"""The registry of dataset problems: name -> a problem that draws one sample (geometry + inputs + solution).

Problems
--------
``poisson-dirichlet``
    ``-div(a grad u) = f`` on the unit square with ``k`` random corner cut-outs
    (BENO protocol), ``u = g`` on the whole boundary.
``poisson-neumann``
    Same domains, ``a du/dn = g`` on the whole boundary. The source is shifted
    by a constant so that ``int f + oint g = 0`` (the stored ``f`` is the
    shifted one) and ``u`` has zero integral mean.
``poisson-mixed``
    Same domains, ``u = g`` on the square's remaining sides (group ``outer``)
    and ``a du/dn = g`` on the cut-out sides (group ``cutout``); the same
    random function ``g`` gives both (so the stored ``g`` reproduces the solve
    exactly, junction nodes included). With ``k = 0`` it is pure Dirichlet.
``elasticity-holes``
    Plane-strain linear elasticity on the unit cell with one random smooth
    void (:func:`graphops.geometry.unit_cell_with_void`, graded mesh: a
    non-uniform point cloud, as in the Geo-FNO / NUNO elasticity problem).
    Bottom side clamped, uniform vertical traction ``(0, traction)`` on the
    top, no body load, ``E = 1``, ``nu = 0.3`` by default. Target: nodal von
    Mises stress (L2 projection onto P1); the displacement is stored too.
``elasticity-small-hole``
    The same set-up with one small circular hole and a mesh graded by a factor
    ``grading`` (default 30) towards it
    (:mod:`graphops.data.small_hole_problem`): NUNO's regime.

Options: Poisson problems take ``cutouts`` (families to draw from, default
0..4), ``mesh_size`` (0.025, tiny 0.06), ``cutout_size`` ([0.1, 0.4]),
``coefficient`` (``"constant"`` a = 1 or ``"random"``) and ``order`` (1 or 2);
``elasticity-holes`` takes ``mesh_size`` (0.04, tiny 0.1), ``void_mesh_size``
(mesh_size / 3), ``E``, ``nu``, ``traction`` and ``order``.

Random inputs are drawn from :mod:`graphops.data.fields` (distributions
documented there); every value depends only on the sample's seed.

Sample layout (``sample(index, seed) -> dict``)
-----------------------------------------------
``points`` (N, d) float64, ``cells`` (M, 3) int64 triangles, ``facets`` (F, 2)
int64 boundary lines with ``facet_group`` (F,) int64 codes into
``problem.group_names``, node fields (N,) or (N, c), and scalars ``index``,
``seed``, ``family``.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Type

import numpy as np

from ..errors import ConfigError
from ..mesh import Mesh


def parse_families(value: Any, name: str = "cutouts", low: int = 0, high: Optional[int] = 4) -> List[int]:
    """Parse ``4``, ``"0,1,2,3"`` or ``[0, 1]`` into a sorted list of distinct ints in ``low..high``.

    The one parser of family lists (``--cutouts``, ``data.train_families``,
    ``graphops evaluate --families``); ``high=None`` means no upper bound.

    Raises
    ------
    ConfigError
        On anything else (empty, non-integers, out of range).
    """
    span = f">= {low}" if high is None else f"in {low}..{high}"
    bad = ConfigError(f"{name} must be integers {span} separated by commas (e.g. 4 or 0,1,2,3), got {value!r}")
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        if not parts or any(not p.lstrip("-").isdigit() for p in parts):
            raise bad
        items = [int(p) for p in parts]
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        items = [int(value)]
    elif isinstance(value, (list, tuple)) and value:
        if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in value):
            raise bad
        items = [int(v) for v in value]
    else:
        raise bad
    if not items or any(v < low or (high is not None and v > high) for v in items):
        raise bad
    return sorted(set(items))


def _positive(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a positive number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    return v


def _facet_arrays(mesh: Mesh, group_names: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """Boundary lines of the named groups ``(F, 2)`` and their group codes ``(F,)``."""
    facets, codes = [], []
    for code, name in enumerate(group_names):
        if name in mesh.groups and "line" in mesh.groups[name].cells:
            lines = mesh.groups[name].cells["line"]
            facets.append(lines)
            codes.append(np.full(len(lines), code, dtype=np.int64))
    if not facets:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(facets).astype(np.int64), np.concatenate(codes)


def group_nodes(mesh: Mesh, names: Sequence[str]) -> np.ndarray:
    """Boolean mask ``(N,)`` of nodes in any of the named groups (missing groups are skipped)."""
    mask = np.zeros(mesh.num_points, dtype=bool)
    for name in names:
        if name in mesh.groups:
            mask[mesh.groups[name].nodes()] = True
    return mask


class Problem:
    """Base class: options, config, families, and ``sample(index, seed)``.

    Subclasses set the class attributes and implement :meth:`_sample`.

    Attributes
    ----------
    name : str
    family_name : str
        What the geometry family label counts (e.g. ``"num_cutouts"``).
    group_names : tuple of str
        Boundary groups stored per facet (``facet_group`` codes index this).
    node_fields : tuple of str
        Per-node fields a sample stores besides ``points``.
    target : str
        The node field learned models predict (``y`` in the dataset).
    """

    name: str = ""
    description: str = ""
    family_name: str = "family"
    group_names: Tuple[str, ...] = ()
    node_fields: Tuple[str, ...] = ()
    target: str = ""
    #: option -> (default, tiny default); None means "the problem decides".
    defaults: Dict[str, Tuple[Any, Any]] = {}

    def __init__(self, tiny: bool = False, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            known = ", ".join(sorted(self.defaults)) or "none"
            raise ConfigError(f"problem {self.name!r} has no option {unknown[0]!r} (options: {known})")
        self.tiny = bool(tiny)
        values = {k: (tiny_v if tiny else v) for k, (v, tiny_v) in self.defaults.items()}
        values.update({k: v for k, v in options.items() if v is not None})
        self.options = self._validate(values)

    def _validate(self, values: Dict[str, Any]) -> Dict[str, Any]:
        return values

    def config(self) -> Dict[str, Any]:
        """The full option set (defaults filled in), JSON-serialisable."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(self.options.items())}

    def families(self) -> List[int]:
        """Geometry family labels this configuration draws from."""
        return [0]

    def sample(self, index: int, seed: int) -> Dict[str, np.ndarray]:
        """Draw one sample: geometry, random inputs and the reference solution.

        Parameters
        ----------
        index : int
            Sample index in the dataset (stored, not used for randomness).
        seed : int
            The sample's seed; the same seed gives identical arrays.

        Returns
        -------
        dict of str to ndarray
        """
        rng = np.random.default_rng(seed)
        out = self._sample(rng)
        out["index"] = np.asarray(index, dtype=np.int64)
        out["seed"] = np.asarray(seed, dtype=np.int64)
        return out

    def _sample(self, rng: np.random.Generator) -> Dict[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError


class _PoissonCutouts(Problem):
    """Poisson on the BENO cut-out squares; subclasses choose the boundary conditions."""

    family_name = "num_cutouts"
    group_names = ("outer", "cutout")
    node_fields = ("f", "g", "a", "bc_dirichlet", "u")
    target = "u"
    defaults = {
        "cutouts": ([0, 1, 2, 3, 4], [0, 1, 2, 3, 4]),
        "mesh_size": (0.025, 0.06),
        "cutout_size": ([0.1, 0.4], [0.1, 0.4]),
        "coefficient": ("constant", "constant"),
        "order": (1, 1),
    }

    def _validate(self, values: Dict[str, Any]) -> Dict[str, Any]:
        from ..geometry._build import check_mesh_size

        values["cutouts"] = parse_families(values["cutouts"], "cutouts", 0, 4)
        values["mesh_size"] = check_mesh_size(values["mesh_size"])
        size = values["cutout_size"]
        if not (isinstance(size, (list, tuple)) and len(size) == 2):
            raise ConfigError(f"cutout_size must be a pair (low, high), got {size!r}")
        values["cutout_size"] = [_positive(size[0], "cutout_size low"), _positive(size[1], "cutout_size high")]
        if not values["cutout_size"][0] <= values["cutout_size"][1] < 0.5:
            raise ConfigError(f"cutout_size must satisfy low <= high < 0.5, got {size!r}")
        if values["coefficient"] not in ("constant", "random"):
            raise ConfigError(f"coefficient must be 'constant' or 'random', got {values['coefficient']!r}")
        if values["order"] not in (1, 2):
            raise ConfigError(f"order must be 1 or 2, got {values['order']!r}")
        return values

    def families(self) -> List[int]:
        return list(self.options["cutouts"])

    # boundary conditions: (dirichlet groups or "all"/None, neumann groups or "all"/None)
    def _bcs(self, mesh: Mesh) -> Tuple[Any, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample(self, rng: np.random.Generator) -> Dict[str, np.ndarray]:
        from ..boundary import boundary_nodes
        from ..geometry import cutout_square
        from ..solvers import solve_poisson
        from .fields import random_boundary, random_coefficient, random_source

        opts = self.options
        k = int(rng.choice(opts["cutouts"]))
        geo_seed = int(rng.integers(0, 2**31 - 1))
        mesh = cutout_square(geo_seed, opts["mesh_size"], k, tuple(opts["cutout_size"]))
        lo, hi = np.zeros(2), np.ones(2)
        f_fn = random_source(rng, lo, hi)
        g_fn = random_boundary(rng, lo, hi)
        a_fn = random_coefficient(rng, lo, hi) if opts["coefficient"] == "random" else None
        x = mesh.points.T
        f = f_fn(x)
        g_all = g_fn(x)
        a = a_fn(x) if a_fn is not None else np.ones(mesh.num_points)
        dirichlet, neumann = self._bcs(mesh)
        u, shift = solve_poisson(
            mesh, f=f, a=a, dirichlet=dirichlet, g=g_all, neumann=neumann, flux=g_all, order=opts["order"], return_shift=True
        )
        on_boundary = boundary_nodes(mesh)
        if dirichlet == "all":
            bc = on_boundary.copy()
        elif dirichlet is None:
            bc = np.zeros(mesh.num_points, dtype=bool)
        else:
            bc = group_nodes(mesh, dirichlet)
        facets, codes = _facet_arrays(mesh, self.group_names)
        return {
            "points": mesh.points,
            "cells": mesh.cells["triangle"],
            "facets": facets,
            "facet_group": codes,
            "f": f - shift,
            "g": np.where(on_boundary, g_all, 0.0),
            "a": a,
            "bc_dirichlet": bc,
            "u": u,
            "family": np.asarray(k, dtype=np.int64),
        }


class PoissonDirichlet(_PoissonCutouts):
    name = "poisson-dirichlet"
    description = "Poisson, u = g on the whole boundary of a square with random corner cut-outs (BENO)"

    def _bcs(self, mesh: Mesh) -> Tuple[Any, Any]:
        return "all", None


class PoissonNeumann(_PoissonCutouts):
    name = "poisson-neumann"
    description = "Poisson, a du/dn = g on the whole boundary (compatible source, zero-mean u) (BENO)"

    def _bcs(self, mesh: Mesh) -> Tuple[Any, Any]:
        return None, "all"


class PoissonMixed(_PoissonCutouts):
    name = "poisson-mixed"
    description = "Poisson, u = g on the square's sides, a du/dn = g on the cut-out sides (BENO)"

    def _bcs(self, mesh: Mesh) -> Tuple[Any, Any]:
        return ["outer"], (["cutout"] if "cutout" in mesh.groups else None)


class ElasticityHoles(Problem):
    name = "elasticity-holes"
    description = "plane-strain elasticity of a unit cell with a random void: von Mises stress (Geo-FNO/NUNO)"
    family_name = "num_voids"
    group_names = ("bottom", "right", "top", "left", "void")
    node_fields = ("g", "bc_dirichlet", "displacement", "von_mises")
    target = "von_mises"
    defaults = {
        "mesh_size": (0.04, 0.1),
        "void_mesh_size": (None, None),
        "E": (1.0, 1.0),
        "nu": (0.3, 0.3),
        "traction": (1.0, 1.0),
        "order": (1, 1),
    }

    def _validate(self, values: Dict[str, Any]) -> Dict[str, Any]:
        from ..geometry._build import check_mesh_size
        from ..solvers import lame

        values["mesh_size"] = check_mesh_size(values["mesh_size"])
        if values["void_mesh_size"] is None:
            values["void_mesh_size"] = values["mesh_size"] / 3.0
        values["void_mesh_size"] = check_mesh_size(values["void_mesh_size"], "void_mesh_size")
        values["E"] = _positive(values["E"], "E")
        lame(values["E"], float(values["nu"]))
        values["nu"] = float(values["nu"])
        values["traction"] = float(values["traction"])
        if values["order"] not in (1, 2):
            raise ConfigError(f"order must be 1 or 2, got {values['order']!r}")
        return values

    def families(self) -> List[int]:
        return [1]

    def loading(self, mesh: Mesh) -> Dict[str, np.ndarray]:
        """The input fields of a mesh with boundary groups ``bottom`` and ``top``.

        Returns
        -------
        dict
            ``g`` (N,) float64: the vertical traction at the ``top`` nodes, 0
            elsewhere; ``bc_dirichlet`` (N,) bool: the clamped ``bottom`` nodes.
        """
        top = group_nodes(mesh, ["top"])
        return {"g": np.where(top, self.options["traction"], 0.0), "bc_dirichlet": group_nodes(mesh, ["bottom"])}

    def solve(self, mesh: Mesh):
        """The reference solution: ``bottom`` clamped, traction ``(0, traction)`` on ``top``.

        Parameters
        ----------
        mesh : Mesh
            2D triangle mesh with line groups ``bottom`` and ``top``.

        Returns
        -------
        ElasticitySolution
            ``displacement`` (N, 2) and ``von_mises`` (N,).
        """
        from ..solvers import solve_elasticity

        opts = self.options
        return solve_elasticity(
            mesh, E=opts["E"], nu=opts["nu"], fixed="bottom", traction="top", traction_value=[0.0, opts["traction"]],
            order=opts["order"],
        )

    def mesh(self, rng: np.random.Generator) -> Mesh:
        """The random geometry of one sample (groups ``bottom``, ``right``, ``top``, ``left``, ``void``)."""
        from ..geometry import unit_cell_with_void

        opts = self.options
        return unit_cell_with_void(int(rng.integers(0, 2**31 - 1)), opts["mesh_size"], opts["void_mesh_size"])

    def _sample(self, rng: np.random.Generator) -> Dict[str, np.ndarray]:
        mesh = self.mesh(rng)
        sol = self.solve(mesh)
        facets, codes = _facet_arrays(mesh, self.group_names)
        return {
            "points": mesh.points,
            "cells": mesh.cells["triangle"],
            "facets": facets,
            "facet_group": codes,
            **self.loading(mesh),
            "displacement": sol.displacement,
            "von_mises": sol.von_mises,
            "family": np.asarray(1, dtype=np.int64),
        }


PROBLEMS: Dict[str, Type[Problem]] = {
    cls.name: cls for cls in (PoissonDirichlet, PoissonNeumann, PoissonMixed, ElasticityHoles)
}


def problem_names() -> List[str]:
    """Names of the registered problems."""
    return sorted(PROBLEMS)


def get_problem(name: str, tiny: bool = False, **options: Any) -> Problem:
    """Build a registered problem.

    Parameters
    ----------
    name : str
        One of :func:`problem_names`.
    tiny : bool
        Small meshes (about 200-500 nodes) for tests.
    **options
        Problem options (None values mean "use the default").

    Raises
    ------
    ConfigError
        Unknown problem name (listing the known ones) or a bad option.
    """
    if name not in PROBLEMS:
        raise ConfigError(f"unknown problem {name!r} (known: {', '.join(problem_names())})")
    return PROBLEMS[name](tiny=tiny, **options)


from .small_hole_problem import ElasticitySmallHole  # noqa: E402  (subclasses ElasticityHoles)

PROBLEMS[ElasticitySmallHole.name] = ElasticitySmallHole
