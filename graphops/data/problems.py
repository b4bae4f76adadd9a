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
the cut-out problems also take ``aspect`` (1: the unit square). ``mesh_size``
and ``aspect`` may be ranges ``[low, high]``, drawn per sample (mesh size
log-uniformly, aspect uniformly; the domain becomes ``[0, 1] x [0, 1/aspect]``
or ``[0, 1/aspect] x [0, 1]`` with equal probability), so that one training set
spans the resolutions and proportions of the parts a model will be applied to;
``boundary_scale`` (default 1) multiplies the random boundary data ``g``: 0.1
gives *source-dominated* solutions, where interpolating the boundary values
alone scores badly and the interior (the source) must be learned;
``elasticity-holes`` takes ``mesh_size`` (0.04, tiny 0.1), ``void_mesh_size``
(mesh_size / 3), ``E``, ``nu``, ``traction`` and ``order``.

Random inputs are drawn from :mod:`graphops.data.fields` (distributions
documented there); every value depends only on the sample's seed.

Prediction protocol
-------------------
Every problem says how a trained model is applied to a user's mesh
(:func:`graphops.predict` only dispatches to these methods):

``prediction_inputs``
    The inputs a user may give (name -> what it is, e.g. ``source``,
    ``boundary``); :meth:`Problem.check_inputs` refuses the others.
``prediction_mesh(mesh)``
    The mesh with what the loading needs added (boundary groups).
``prediction_fields(mesh, inputs)``
    The model's node fields, as :func:`graphops.data.dataset.sample_graph`
    takes them, from the mesh and the user's inputs (formulas, point field
    names, numbers or arrays keyed by input name; see :func:`input_field`),
    in the user's own coordinates and units.
``prediction_notes(mesh)``
    Lines telling the user how the problem was set up.
``reference_solution(mesh, fields)``
    The reference FEM solution of the same inputs (``--compare-fem``), keyed
    like :meth:`Problem.output_fields` (extra keys are written as they are).
``output_fields(prediction)``
    Named point fields to write from the model's output ``(N, C)``
    (vectors as ``(N, 3)`` so that ParaView's Warp By Vector works).
``similarity``
    The problem's similarity law (:mod:`graphops.data.similarity`), or None
    when unknown (no rescaling then).
``reference_frame()``
    The frame the problem's training geometries fill (centre, characteristic
    length, element size), used for checkpoints that do not store their
    training data's frame (:mod:`graphops.data.frame`).

Sample layout (``sample(index, seed) -> dict``)
-----------------------------------------------
``points`` (N, d) float64, ``cells`` (M, 3) int64 triangles, ``facets`` (F, 2)
int64 boundary lines with ``facet_group`` (F,) int64 codes into
``problem.group_names``, node fields (N,) or (N, c), and scalars ``index``,
``seed``, ``family``.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union

import numpy as np

from ..errors import ConfigError, DataError
from ..mesh import Mesh, PhysicalGroup
from .similarity import ELASTICITY_STRESS, POISSON_DIRICHLET, POISSON_NEUMANN, PowerLaw

#: What a user may give for one input: a formula in x, y, z, the name of a point
#: field of the mesh, a number, or nodal values.
InputSpec = Union[None, str, float, np.ndarray]


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


def _facet_arrays(mesh: Mesh, group_names: Sequence[str], facet_type: str = "line") -> Tuple[np.ndarray, np.ndarray]:
    """Boundary facets (``"line"`` (F, 2) or ``"triangle"`` (F, 3)) of the named groups and their group codes ``(F,)``."""
    facets, codes = [], []
    for code, name in enumerate(group_names):
        if name in mesh.groups and facet_type in mesh.groups[name].cells:
            lines = mesh.groups[name].cells[facet_type]
            facets.append(lines)
            codes.append(np.full(len(lines), code, dtype=np.int64))
    if not facets:
        return np.zeros((0, 2 if facet_type == "line" else 3), dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(facets).astype(np.int64), np.concatenate(codes)


def parse_range(value: Any, name: str, check: Callable[[Any, str], float]) -> Union[float, List[float]]:
    """A number, or a ``[low, high]`` pair (``"low,high"`` too) with ``low <= high``, each checked by ``check``.

    Returns the number itself when ``low == high`` (so a degenerate range
    draws nothing and gives the same samples as the number).

    Raises
    ------
    ConfigError
        Not a number or a pair, a value ``check`` refuses, or ``low > high``.
    """
    if isinstance(value, str) and "," in value:
        value = [part.strip() for part in value.split(",")]
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(f"{name} must be a number or a pair low,high, got {value!r}")
        low, high = check(value[0], name), check(value[1], name)
        if low > high:
            raise ConfigError(f"{name} must have low <= high, got {value!r}")
        return low if low == high else [low, high]
    return check(value, name)


def draw_in_range(rng: np.random.Generator, value: Union[float, Sequence[float]], log: bool = False) -> float:
    """``value`` itself, or a uniform (``log``: log-uniform) draw from a ``[low, high]`` pair of :func:`parse_range`."""
    if not isinstance(value, (list, tuple)):
        return float(value)
    low, high = float(value[0]), float(value[1])
    if log:
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))
    return float(rng.uniform(low, high))


def _check_aspect(value: Any, name: str) -> float:
    aspect = _positive(value, name)
    if aspect < 1:
        raise ConfigError(f"{name} is the longest over the shortest side and must be >= 1, got {value!r}")
    return aspect


def _check_coefficient_and_order(values: Dict[str, Any]) -> Dict[str, Any]:
    """Check the Poisson options ``coefficient`` (constant/random) and ``order`` (1/2); return ``values``."""
    if values["coefficient"] not in ("constant", "random"):
        raise ConfigError(f"coefficient must be 'constant' or 'random', got {values['coefficient']!r}")
    if values["order"] not in (1, 2):
        raise ConfigError(f"order must be 1 or 2, got {values['order']!r}")
    return values


def group_nodes(mesh: Mesh, names: Sequence[str]) -> np.ndarray:
    """Boolean mask ``(N,)`` of nodes in any of the named groups (missing groups are skipped)."""
    mask = np.zeros(mesh.num_points, dtype=bool)
    for name in names:
        if name in mesh.groups:
            mask[mesh.groups[name].nodes()] = True
    return mask


def input_field(spec: InputSpec, mesh: Mesh, name: str, default: Optional[float] = None,
                components: Optional[int] = None) -> np.ndarray:
    """A node field from a user's input: a formula, a point field name, a number or nodal values.

    Parameters
    ----------
    spec : str, number, ndarray or None
        A formula in ``x, y, z`` (evaluated at the mesh's nodes, in the mesh's
        own coordinates), the name of a point field of ``mesh``, a constant, or
        an array ``(N,)`` / ``(N, c)``. None gives ``default``.
    mesh : Mesh
    name : str
        What the input is (used in error messages).
    default : float, optional
        Value for a missing input; None makes the input required.
    components : int, optional
        Components of a vector input ``(N, c)``; None for a scalar ``(N,)``.

    Returns
    -------
    ndarray, shape (N,) or (N, components), float64

    Raises
    ------
    ConfigError
        A required input is missing, or a formula is invalid.
    DataError
        A point field or array of the wrong shape, or NaN / infinite values.
    """
    from ..expressions import evaluate_expression

    shape = (mesh.num_points,) if components is None else (mesh.num_points, int(components))
    if spec is None:
        if default is None:
            raise ConfigError(f"the {name} is required (a formula in x, y, z, a point field name or a number)")
        return np.full(shape, float(default))
    if isinstance(spec, str) and spec in mesh.point_data:
        values = np.asarray(mesh.point_data[spec], dtype=np.float64)
        if components is None and values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.shape != shape:
            raise DataError(f"point field {spec!r} for the {name} has shape {values.shape}, expected {shape}", mesh.source)
    elif isinstance(spec, str):
        values = evaluate_expression(spec, mesh.points, name)
        if components is not None:
            values = np.repeat(values[:, None], components, axis=1)
    else:
        try:
            values = np.broadcast_to(np.asarray(spec, dtype=np.float64), shape).copy()
        except (TypeError, ValueError):
            raise DataError(f"the {name} must be broadcastable to shape {shape}, got {np.shape(spec)}", mesh.source) \
                from None
    if not np.isfinite(values).all():
        first = int(np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))[0])
        raise DataError(f"the {name} has NaN or infinite values (first at node {first})", mesh.source)
    return values


def neumann_shift(mesh: Mesh, f: np.ndarray, g: np.ndarray) -> float:
    """The constant to subtract from ``f`` so that ``int f dx + oint g ds = 0``.

    Integrals of the P1 interpolants, exact: each simplex (facet) contributes its
    measure times the mean of its node values.

    Parameters
    ----------
    mesh : Mesh
        Triangle or tetrahedron mesh.
    f, g : ndarray, shape (N,)
        Source and boundary flux at the nodes.
    """
    from math import factorial

    from ..boundary import boundary_facets

    def measures(points: np.ndarray, simplices: np.ndarray) -> np.ndarray:
        edges = points[simplices[:, 1:]] - points[simplices[:, :1]]  # (S, k, d)
        gram = np.einsum("skd,sld->skl", edges, edges)
        return np.sqrt(np.clip(np.linalg.det(gram), 0, None)) / factorial(edges.shape[1])

    volume = {t: c for t, c in mesh.volume_cells().items() if t in ("triangle", "tetra")}
    if len(volume) != len(mesh.volume_cells()):
        raise DataError("Neumann problems need a triangle or tetrahedron mesh", mesh.source)
    cells = next(iter(volume.values()))
    vol = measures(mesh.points, cells)
    total = float(vol.sum())
    integral_f = float((vol * f[cells].mean(axis=1)).sum())
    integral_g = sum(float((measures(mesh.points, fc) * g[fc].mean(axis=1)).sum()) for fc in boundary_facets(mesh).values())
    return (integral_f + integral_g) / total


def elasticity_sides(mesh: Mesh, rel_tol: float = 1e-6) -> Mesh:
    """The mesh with line groups ``bottom`` and ``top``: its boundary edges on the bounding box's lowest and highest y.

    These are the sides the ``elasticity-holes`` problem clamps and pulls (in
    training, the bottom and top sides of the unit cell). Groups of these names
    already in the mesh are replaced.

    Parameters
    ----------
    mesh : Mesh
        2D mesh with surface cells.
    rel_tol : float
        A node is on a side when its y is within ``rel_tol`` times the bounding
        box diagonal of the side's y.

    Returns
    -------
    Mesh
        A shallow copy with the two groups added.

    Raises
    ------
    MeshError
        No boundary edge lies on the bottom or on the top of the bounding box.
    """
    from ..boundary import boundary_facets
    from ..errors import MeshError

    lo, hi = mesh.bounding_box()
    tol = rel_tol * float(np.linalg.norm(hi - lo))
    lines = boundary_facets(mesh).get("line", np.zeros((0, 2), dtype=np.int64))
    y = mesh.points[:, 1]
    groups = dict(mesh.groups)
    for name, level in (("bottom", lo[1]), ("top", hi[1])):
        on_side = np.abs(y[lines] - level) <= tol
        picked = lines[on_side.all(axis=1)]
        if not len(picked):
            raise MeshError(
                f"no boundary edge lies on the {name} of the bounding box (y = {level:g}): the elasticity model "
                "clamps the bottom side and pulls the top side, which must be straight horizontal edges",
                mesh.source,
            )
        groups[name] = PhysicalGroup(name, 1, -1, {"line": picked})
    return Mesh(mesh.points, dict(mesh.cells), dict(mesh.point_data), dict(mesh.cell_data), groups, mesh.source)


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

    # ------------------------------------------------------------ prediction
    #: Inputs :func:`graphops.predict` accepts for this problem: name -> what it is.
    prediction_inputs: Dict[str, str] = {}
    #: The similarity law (:mod:`graphops.data.similarity`); None: unknown, no rescaling.
    similarity: Optional[PowerLaw] = None
    #: Title of the prediction panel in the PNG.
    output_label: str = "prediction"
    #: Box ``(low corner, high corner)`` the training geometries fill, when the problem fixes it.
    domain_box: Optional[Tuple[Tuple[float, ...], Tuple[float, ...]]] = None

    def check_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Refuse inputs this problem does not take (None values count as not given).

        Raises
        ------
        ConfigError
            Naming the unknown inputs and the ones the problem takes.
        """
        given = [name for name, value in inputs.items() if value is not None and name not in self.prediction_inputs]
        if given:
            takes = ", ".join(self.prediction_inputs) or "no inputs: its loading is fixed"
            raise ConfigError(
                f"{' and '.join('--' + n for n in given)} do not apply to a model trained on {self.name!r} (it takes {takes})"
            )

    def prediction_mesh(self, mesh: Mesh) -> Mesh:
        """The user's mesh with what the problem's loading needs (boundary groups); unchanged by default."""
        return mesh

    def prediction_fields(self, mesh: Mesh, inputs: Mapping[str, InputSpec]) -> Dict[str, np.ndarray]:
        """The model's node fields on ``mesh`` from the user's inputs.

        Parameters
        ----------
        mesh : Mesh
            The mesh from :meth:`prediction_mesh`, in the user's coordinates.
        inputs : mapping of str to InputSpec
            Input name -> formula, point field name, number or nodal values
            (see :func:`input_field`); None values mean "not given".

        Returns
        -------
        dict of str to ndarray
            Node fields ``(N,)`` / ``(N, c)`` as :func:`graphops.data.dataset.sample_graph`
            takes them (booleans stay boolean), in the user's units.

        Raises
        ------
        ConfigError
            Inputs that do not apply, missing required inputs, bad formulas.
        """
        raise ConfigError(f"predict does not support models trained on {self.name!r}")

    def prediction_notes(self, mesh: Mesh) -> List[str]:
        """Lines telling the user how the problem was set up on ``mesh`` (none by default)."""
        return []

    def reference_solution(self, mesh: Mesh, fields: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """The reference FEM solution for the inputs ``fields`` of :meth:`prediction_fields`.

        Returns
        -------
        dict of str to ndarray
            Keyed like :meth:`output_fields`; other keys are written as they are.

        Raises
        ------
        ConfigError
            The problem has no reference solver.
        """
        raise ConfigError(f"there is no reference solver for {self.name!r}: leave out --compare-fem")

    def reference_solutions(self, mesh: Mesh, fields: Sequence[Mapping[str, np.ndarray]]) -> List[Dict[str, np.ndarray]]:
        """:meth:`reference_solution` of several queries on one mesh (one solve each by default).

        Problems whose solver can factorise once and solve many right-hand
        sides override this (the Poisson problems do).
        """
        return [self.reference_solution(mesh, one) for one in fields]

    def output_fields(self, prediction: np.ndarray) -> Dict[str, np.ndarray]:
        """Named point fields from the model output ``(N, C)``.

        The built-in problems learn one scalar, written as ``prediction`` ``(N,)``;
        several channels are written as one vector padded to ``(N, 3)``.
        """
        prediction = np.asarray(prediction).reshape(len(prediction), -1)
        if prediction.shape[1] == 1:
            return {"prediction": prediction[:, 0]}
        return {"prediction": pad_vector(prediction)}

    def reference_frame(self) -> Optional[Dict[str, Any]]:
        """The frame of the training geometries when the problem fixes it (else None).

        Returns
        -------
        dict or None
            ``low``, ``high`` (d,) corners of :attr:`domain_box` and
            ``element_size`` (the ``mesh_size`` option).
        """
        if self.domain_box is None:
            return None
        low, high = (list(map(float, c)) for c in self.domain_box)
        size = self.options.get("mesh_size", 0.0)
        if isinstance(size, (list, tuple)):  # a range: its geometric mean
            size = float(np.sqrt(float(size[0]) * float(size[1])))
        return {"low": low, "high": high, "element_size": float(size) or None}


def pad_vector(values: np.ndarray) -> np.ndarray:
    """Vectors ``(N, c)`` with ``c <= 3`` as ``(N, 3)`` (zeros appended), as ParaView wants them."""
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[1] >= 3:
        return values
    return np.concatenate([values, np.zeros((len(values), 3 - values.shape[1]), dtype=values.dtype)], axis=1)


class _PoissonPrediction(Problem):
    """What ``predict`` needs of a Poisson problem (2D cut-outs or 3D solids): inputs f and g, the FEM reference."""

    prediction_inputs = {
        "source": "source term f: formula in x, y, z, point field name or number (default 0)",
        "boundary": "boundary values g (Dirichlet value or Neumann flux): formula, point field name or number",
    }
    #: "dirichlet" or "neumann": what the boundary input means (predict supports these two).
    boundary_kind = ""

    def prediction_mesh(self, mesh: Mesh) -> Mesh:
        """The mesh unchanged; a surface mesh in 3D (or a curve mesh) is refused: Poisson needs a volume.

        Raises
        ------
        MeshError
            Naming the mesh's kind.
        """
        from ..errors import MeshError

        if mesh.dim != mesh.geometric_dim:
            raise MeshError(f"this is a {mesh.kind}, and Poisson is solved in a volume: mesh the part's interior "
                            f"(a {mesh.geometric_dim}D mesh) first", mesh.source)
        return mesh

    def prediction_fields(self, mesh: Mesh, inputs: Mapping[str, InputSpec]) -> Dict[str, np.ndarray]:
        from ..boundary import boundary_nodes

        self.check_inputs(inputs)
        if not self.boundary_kind:
            return super().prediction_fields(mesh, inputs)
        if inputs.get("boundary") is None:
            raise ConfigError(
                f"boundary values are required: the model learned {self.boundary_kind} boundary conditions "
                "(give a formula such as 'x*y' or a point field name)"
            )
        f = input_field(inputs.get("source"), mesh, "source", 0.0)
        on_boundary = boundary_nodes(mesh)
        g = np.where(on_boundary, input_field(inputs["boundary"], mesh, "boundary values"), 0.0)
        if self.boundary_kind == "neumann":  # the model learned compatible data: int f + oint g = 0
            f = f - neumann_shift(mesh, f, g)
        bc = on_boundary if self.boundary_kind == "dirichlet" else np.zeros_like(on_boundary)
        return {"f": f, "g": g, "a": np.ones(mesh.num_points), "bc_dirichlet": bc}

    def reference_solution(self, mesh: Mesh, fields: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        from ..solvers import solve_poisson

        f, g, a = fields["f"], fields["g"], fields.get("a")
        if self.boundary_kind == "dirichlet":
            u = solve_poisson(mesh, f=f, a=a, dirichlet="all", g=g, order=self.options["order"])
        elif self.boundary_kind == "neumann":
            u = solve_poisson(mesh, f=f, a=a, dirichlet=None, neumann="all", flux=g, order=self.options["order"])
        else:
            return super().reference_solution(mesh, fields)
        return {"prediction": u}

    def reference_solutions(self, mesh: Mesh, fields: Sequence[Mapping[str, np.ndarray]]) -> List[Dict[str, np.ndarray]]:
        """The reference solutions of several queries, the system factorised once per coefficient ``a``
        (:class:`graphops.solvers.PoissonSystem`); the same solutions as :meth:`reference_solution`."""
        from ..solvers import PoissonSystem

        if self.boundary_kind not in ("dirichlet", "neumann"):
            return super().reference_solutions(mesh, fields)
        parts = {"dirichlet": "all", "neumann": None} if self.boundary_kind == "dirichlet" else \
            {"dirichlet": None, "neumann": "all"}
        systems: List[Tuple[Any, Any]] = []  # (a, system), one per distinct coefficient
        out = []
        for one in fields:
            a = one.get("a")
            system = next((sys for coef, sys in systems if np.array_equal(coef, a)), None)
            if system is None:
                system = PoissonSystem(mesh, a=1.0 if a is None else a, order=self.options["order"], **parts)
                systems.append((a, system))
            u = system.solve(f=one["f"], g=one["g"], flux=one["g"]).nodal()
            out.append({"prediction": u})
        return out



class _PoissonCutouts(_PoissonPrediction):
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
        "aspect": (1.0, 1.0),
        "boundary_scale": (1.0, 1.0),
    }
    domain_box = ((0.0, 0.0), (1.0, 1.0))

    def _validate(self, values: Dict[str, Any]) -> Dict[str, Any]:
        from ..geometry._build import check_mesh_size

        values["cutouts"] = parse_families(values["cutouts"], "cutouts", 0, 4)
        values["mesh_size"] = parse_range(values["mesh_size"], "mesh_size", check_mesh_size)
        values["aspect"] = parse_range(values["aspect"], "aspect", _check_aspect)
        values["boundary_scale"] = _positive(values["boundary_scale"], "boundary_scale")
        size = values["cutout_size"]
        if not (isinstance(size, (list, tuple)) and len(size) == 2):
            raise ConfigError(f"cutout_size must be a pair (low, high), got {size!r}")
        values["cutout_size"] = [_positive(size[0], "cutout_size low"), _positive(size[1], "cutout_size high")]
        if not values["cutout_size"][0] <= values["cutout_size"][1] < 0.5:
            raise ConfigError(f"cutout_size must satisfy low <= high < 0.5, got {size!r}")
        return _check_coefficient_and_order(values)

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
        # ranges draw only when given, so the default options keep their samples
        mesh_size = draw_in_range(rng, opts["mesh_size"], log=True)
        extent = np.ones(2)
        if opts["aspect"] != 1.0:
            extent[int(rng.integers(0, 2))] = 1.0 / draw_in_range(rng, opts["aspect"])
        mesh = cutout_square(geo_seed, mesh_size, k, tuple(opts["cutout_size"]), extent=tuple(extent))
        lo, hi = np.zeros(2), extent
        f_fn = random_source(rng, lo, hi)
        g_fn = random_boundary(rng, lo, hi)
        a_fn = random_coefficient(rng, lo, hi) if opts["coefficient"] == "random" else None
        x = mesh.points.T
        f = f_fn(x)
        g_all = g_fn(x) * opts["boundary_scale"]
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
    boundary_kind = "dirichlet"
    similarity = POISSON_DIRICHLET

    def _bcs(self, mesh: Mesh) -> Tuple[Any, Any]:
        return "all", None


class PoissonNeumann(_PoissonCutouts):
    name = "poisson-neumann"
    description = "Poisson, a du/dn = g on the whole boundary (compatible source, zero-mean u) (BENO)"
    boundary_kind = "neumann"
    similarity = POISSON_NEUMANN

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

    prediction_inputs: Dict[str, str] = {}
    similarity = ELASTICITY_STRESS
    output_label = "prediction (von Mises)"
    domain_box = ((0.0, 0.0), (1.0, 1.0))

    def check_inputs(self, inputs: Mapping[str, Any]) -> None:
        given = [name for name, value in inputs.items() if value is not None]
        if given:
            raise ConfigError(
                f"{' and '.join('--' + n for n in given)} do not apply to a model trained on {self.name!r}: its loading "
                "is fixed (the bottom of the mesh's bounding box clamped, the top pulled upwards as in training); "
                "leave them out"
            )

    def prediction_mesh(self, mesh: Mesh) -> Mesh:
        """The mesh with its ``bottom`` and ``top`` sides as groups (:func:`elasticity_sides`)."""
        return elasticity_sides(mesh)

    def prediction_fields(self, mesh: Mesh, inputs: Mapping[str, InputSpec]) -> Dict[str, np.ndarray]:
        self.check_inputs(inputs)
        return self.loading(mesh)

    def prediction_notes(self, mesh: Mesh) -> List[str]:
        opts = self.options
        lo, hi = mesh.bounding_box()
        notes = [
            f"loading as in training: bottom edge (y = {lo[1]:g}) clamped, traction (0, {opts['traction']:g}) on the "
            f"top edge (y = {hi[1]:g}); E = {opts['E']:g}, nu = {opts['nu']:g}, plane strain"
        ]
        for side in ("bottom", "top"):
            xs = mesh.points[mesh.groups[side].nodes(), 0]
            if xs.max() - xs.min() < (1 - 1e-6) * (hi[0] - lo[0]):
                notes.append(
                    f"the {side} edge spans x = {xs.min():g}..{xs.max():g} only, not the whole width "
                    f"{lo[0]:g}..{hi[0]:g} of the bounding box (in training it always does)"
                )
        return notes

    def reference_solution(self, mesh: Mesh, fields: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        sol = self.solve(mesh)
        return {"prediction": sol.von_mises, "fem_displacement": pad_vector(sol.displacement)}

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


# ---------------------------------------------------------------- 3D Poisson (appended)
class _PoissonSolids(_PoissonPrediction):
    """Poisson on the unit box drilled by ``k`` random vertical through-holes (3D BENO-style data).

    Geometry: :func:`graphops.geometry.solid_with_holes` (box, ``k`` = 0..4
    cylindrical holes, the geometry family); inputs ``f`` and ``g`` from the
    same random families as the 2D problems (:mod:`graphops.data.fields`, in
    3D); reference: P1 (or P2) tetrahedral FEM (:func:`graphops.solvers.solve_poisson`).
    Subclasses choose the boundary conditions.
    """

    family_name = "num_holes"
    group_names = ("bottom", "top", "side", "hole")
    node_fields = ("f", "g", "a", "bc_dirichlet", "u")
    target = "u"
    defaults = {
        "holes": ([0, 1, 2, 3, 4], [0, 1, 2, 3, 4]),
        "mesh_size": (0.12, 0.3),
        "coefficient": ("constant", "constant"),
        "order": (1, 1),
    }
    #: (dirichlet, neumann) selectors of :func:`graphops.solvers.solve_poisson`.
    conditions: Tuple[Any, Any] = ("all", None)
    domain_box = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))

    def _validate(self, values: Dict[str, Any]) -> Dict[str, Any]:
        from ..geometry._build import check_mesh_size
        from ..geometry.solids import MAX_HOLES

        values["holes"] = parse_families(values["holes"], "holes", 0, MAX_HOLES)
        values["mesh_size"] = check_mesh_size(values["mesh_size"])
        return _check_coefficient_and_order(values)

    def families(self) -> List[int]:
        return list(self.options["holes"])

    def _sample(self, rng: np.random.Generator) -> Dict[str, np.ndarray]:
        from ..boundary import boundary_nodes
        from ..geometry import solid_with_holes
        from ..solvers import solve_poisson
        from .fields import random_boundary, random_coefficient, random_source

        opts = self.options
        k = int(rng.choice(opts["holes"]))
        mesh = solid_with_holes(int(rng.integers(0, 2**31 - 1)), opts["mesh_size"], "box", k)
        lo, hi = np.zeros(3), np.ones(3)
        f_fn = random_source(rng, lo, hi)
        g_fn = random_boundary(rng, lo, hi)
        a_fn = random_coefficient(rng, lo, hi) if opts["coefficient"] == "random" else None
        x = mesh.points.T
        f, g_all = f_fn(x), g_fn(x)
        a = a_fn(x) if a_fn is not None else np.ones(mesh.num_points)
        dirichlet, neumann = self.conditions
        u, shift = solve_poisson(
            mesh, f=f, a=a, dirichlet=dirichlet, g=g_all, neumann=neumann, flux=g_all, order=opts["order"],
            return_shift=True,
        )
        on_boundary = boundary_nodes(mesh)
        facets, codes = _facet_arrays(mesh, self.group_names, "triangle")
        return {
            "points": mesh.points,
            "cells": mesh.cells["tetra"],
            "facets": facets,
            "facet_group": codes,
            "f": f - shift,
            "g": np.where(on_boundary, g_all, 0.0),
            "a": a,
            "bc_dirichlet": on_boundary.copy() if dirichlet == "all" else np.zeros(mesh.num_points, dtype=bool),
            "u": u,
            "family": np.asarray(k, dtype=np.int64),
        }


class PoissonDirichlet3D(_PoissonSolids):
    name = "poisson-dirichlet-3d"
    description = "Poisson, u = g on the whole boundary of a box with random vertical through-holes (3D)"
    conditions = ("all", None)
    boundary_kind = "dirichlet"
    similarity = POISSON_DIRICHLET


class PoissonNeumann3D(_PoissonSolids):
    name = "poisson-neumann-3d"
    description = "Poisson, a du/dn = g on the whole boundary of a box with random through-holes (3D; compatible source, zero-mean u)"
    conditions = (None, "all")
    boundary_kind = "neumann"
    similarity = POISSON_NEUMANN


PROBLEMS.update({cls.name: cls for cls in (PoissonDirichlet3D, PoissonNeumann3D)})

from .small_hole_problem import ElasticitySmallHole  # noqa: E402  (subclasses ElasticityHoles)

PROBLEMS[ElasticitySmallHole.name] = ElasticitySmallHole
