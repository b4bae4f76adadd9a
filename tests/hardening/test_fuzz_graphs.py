"""Property-based tests: random and degenerate point clouds and meshes fed to the graph builders.

Each input either gives a well-formed graph (indices in range, finite
features, the kNN / radius properties hold) or a one-line GraphopsError;
nothing crashes deep inside numpy/scipy/torch and nothing hangs.
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from scipy.spatial import Delaunay, QhullError

from graphops.cells import CELL_CORNERS, CELL_DIM
from graphops.errors import GraphopsError
from graphops.graph import knn_graph, mesh_to_graph, point_cloud_to_graph, radius_graph
from graphops.mesh import Mesh
from hardening_helpers import (FUZZ, STATS, assert_clean_error, check_edge_index, check_graph, examples,
                               no_hang)

#: A float64 -> float32 cast that overflows means a silent inf in a graph feature: a failure.
pytestmark = pytest.mark.filterwarnings("error:overflow encountered in cast:RuntimeWarning")

SHAPES = ["uniform", "duplicates", "collinear", "coplanar", "huge", "tiny", "mixed scales", "one nan", "one inf",
          "grid"]


@st.composite
def clouds(draw, min_points=1, max_points=40):
    """A point cloud ``(N, 2|3)`` of one of the awkward kinds in SHAPES."""
    n = draw(st.integers(min_points, max_points))
    d = draw(st.sampled_from([2, 3]))
    kind = draw(st.sampled_from(SHAPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pts = rng.random((n, d))
    if kind == "duplicates":
        pts = pts[rng.integers(0, max(1, n // 4), n)]
    elif kind == "collinear":
        pts = rng.random(n)[:, None] * rng.normal(size=d) + rng.normal(size=d)
    elif kind == "coplanar" and d == 3:
        pts[:, 2] = 0.5
    elif kind == "huge":
        pts = pts * 10.0 ** draw(st.integers(20, 300))
    elif kind == "tiny":
        pts = pts * 10.0 ** -draw(st.integers(20, 320))
    elif kind == "mixed scales":
        pts[0] *= 1e12
    elif kind == "one nan":
        pts[rng.integers(n), rng.integers(d)] = np.nan
    elif kind == "one inf":
        pts[rng.integers(n), rng.integers(d)] = -np.inf
    elif kind == "grid":
        side = int(np.ceil(n ** (1 / d)))
        axes = np.meshgrid(*[np.arange(side, dtype=float)] * d, indexing="ij")
        pts = np.stack([a.ravel() for a in axes], 1)[:n]
    return pts, kind


raw_clouds = hnp.arrays(
    np.float64,
    st.tuples(st.integers(0, 25), st.sampled_from([0, 1, 2, 3, 4])),
    elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
)


def _unusable(pts):
    """Inputs a neighbour search must refuse: wrong shape, empty, NaN/inf, or a span whose squares overflow."""
    if pts.ndim != 2 or len(pts) == 0 or pts.shape[1] not in (1, 2, 3) or not np.isfinite(pts).all():
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        return not np.isfinite(np.sum(np.square(np.ptp(pts, axis=0))))


def _pairwise(pts):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=-1)


def _knn_checked(pts, k, loop):
    STATS["graph fuzz inputs"] += 1
    try:
        with no_hang(20, "knn_graph"):
            e = knn_graph(pts, k, loop=loop)
    except GraphopsError as exc:
        STATS["graph fuzz: clean GraphopsError"] += 1
        assert_clean_error(exc)
        assert _unusable(pts) or k < 1
        return
    n = len(pts)
    assert np.isfinite(pts).all(), "knn_graph accepted NaN/inf coordinates"
    e = check_edge_index(e, n, loop=loop)
    per_target = np.bincount(e[1], minlength=n)
    expected = min(k, n) if loop else min(k, n - 1)
    assert np.all(per_target == expected), (per_target, expected)
    assert len(set(map(tuple, e.T.tolist()))) == e.shape[1], "duplicate edges"
    dist = _pairwise(pts)
    for t in range(n):  # the chosen neighbours are the nearest ones
        chosen = np.zeros(n, bool)
        chosen[e[0, e[1] == t]] = True
        if not loop:
            chosen[t] = True  # the point itself is never a candidate
        if (~chosen).any() and np.isfinite(dist[t]).all():
            assert dist[t, e[0, e[1] == t]].max(initial=0) <= dist[t, ~chosen].min() * (1 + 1e-9) + 1e-300


@FUZZ
@given(clouds(), st.integers(-1, 12), st.booleans())
def test_knn_graph_on_awkward_clouds(cloud, k, loop):
    pts, _ = cloud
    _knn_checked(pts, k, loop)


@FUZZ
@given(raw_clouds, st.integers(1, 6))
def test_knn_graph_on_arbitrary_float_arrays(pts, k):
    _knn_checked(pts, k, False)


radii = st.one_of(
    st.floats(min_value=1e-6, max_value=2.0),
    st.sampled_from([0.0, -1.0, np.nan, np.inf, 1e-300, 1e300]),
)


@FUZZ
@given(clouds(), radii, st.booleans(), st.one_of(st.none(), st.integers(1, 6)))
def test_radius_graph_on_awkward_clouds(cloud, r, loop, cap):
    pts, kind = cloud
    STATS["graph fuzz inputs"] += 1
    try:
        with no_hang(20, "radius_graph"):
            e = radius_graph(pts, r, loop=loop, max_num_neighbors=cap)
    except GraphopsError as exc:
        STATS["graph fuzz: clean GraphopsError"] += 1
        assert_clean_error(exc)
        assert _unusable(pts) or not r > 0, (kind, r)
        return
    assert np.isfinite(pts).all() and r > 0
    n = len(pts)
    e = check_edge_index(e, n, loop=loop)
    dist = _pairwise(pts)
    d = dist[e[0], e[1]]
    finite = np.isfinite(d)
    assert np.all(d[finite] <= r * (1 + 1e-9)), "an edge is longer than the radius"
    if cap is not None:
        assert np.all(np.bincount(e[1], minlength=n) <= cap + (1 if loop else 0))
    elif np.isfinite(dist).all():
        want = dist < r * (1 - 1e-9)
        if not loop:
            np.fill_diagonal(want, False)
        got = np.zeros((n, n), bool)
        got[e[0], e[1]] = True
        assert not np.any(want & ~got), "a pair closer than the radius is missing"
        assert np.array_equal(got, got.T), "radius graph is not symmetric"


@FUZZ
@given(clouds(), st.one_of(st.none(), st.floats(1e-3, 1.0)), st.integers(1, 8))
def test_point_cloud_to_graph_gives_finite_features_or_a_clear_error(cloud, radius, k):
    pts, kind = cloud
    STATS["graph fuzz inputs"] += 1
    mesh = None
    try:
        with no_hang(20, "point_cloud_to_graph"):
            mesh = Mesh(pts, {}, {"value": np.arange(len(pts), dtype=float)}, source="cloud.npy").validate()
            data = point_cloud_to_graph(mesh, k=k, radius=radius)
    except GraphopsError as exc:
        STATS["graph fuzz: clean GraphopsError"] += 1
        assert_clean_error(exc)
        return
    assert np.isfinite(pts).all()
    check_graph(data, len(pts), pts.shape[1], boundary=False)
    assert data.value.shape == (len(pts), 1)


@st.composite
def random_meshes(draw):
    """Random connectivity over an awkward cloud: degenerate, repeated, out-of-range cells, mixed blocks."""
    pts, kind = draw(clouds(min_points=1, max_points=30))
    n = len(pts)
    cells = {}
    mode = draw(st.sampled_from(["delaunay", "delaunay + junk", "random cells"]))
    # a proper triangulation of the (possibly degenerate) cloud; qhull itself crashes on some clouds
    # near 1e150, so huge and non-finite clouds get random cells only
    if mode != "random cells" and np.isfinite(pts).all() and np.abs(pts).max() < 1e100:
        try:
            tri = Delaunay(pts)
            cells["triangle" if pts.shape[1] == 2 else "tetra"] = tri.simplices.astype(np.int64)
        except (QhullError, ValueError):
            pass
    junk_blocks = 0 if mode == "delaunay" and cells else draw(st.integers(1, 2))
    for _ in range(junk_blocks):
        ctype = draw(st.sampled_from(sorted(CELL_CORNERS)))
        m = draw(st.integers(0, 12))
        lo = draw(st.sampled_from([0, 0, 0, -1]))
        hi = draw(st.sampled_from([n - 1, n - 1, n - 1, n + 1]))
        conn = draw(hnp.arrays(np.int64, (m, CELL_CORNERS[ctype]), elements=st.integers(lo, max(lo, hi))))
        if m and draw(st.booleans()) and n >= CELL_CORNERS[ctype]:  # mostly proper cells with distinct corners
            rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
            conn = np.stack([rng.choice(n, CELL_CORNERS[ctype], replace=False) for _ in range(m)]).reshape(m, -1)
        cells[ctype] = conn
    return Mesh(pts, cells, source="random.vtu"), kind


@settings(FUZZ, max_examples=examples(80))
@given(random_meshes(), st.one_of(st.none(), st.floats(1e-3, 0.5)))
def test_mesh_to_graph_on_random_meshes(mesh_kind, radius):
    mesh, kind = mesh_kind
    STATS["graph fuzz inputs"] += 1
    try:
        with no_hang(20, "mesh_to_graph"):
            data = mesh_to_graph(mesh, radius=radius)
    except GraphopsError as exc:
        STATS["graph fuzz: clean GraphopsError"] += 1
        assert_clean_error(exc, "random.vtu" if exc.path else None)
        return
    STATS["graph fuzz: graph built"] += 1
    check_graph(data, mesh.num_points, mesh.geometric_dim)
    assert any(CELL_DIM[t] >= 2 for t, c in mesh.cells.items() if len(c))


#: 3-D points near 1e150 on which scipy's qhull (Delaunay) dereferences a null pointer.
QHULL_CRASH = """
[[1.6024283037476805e+149, 5.7222949547208388e+149, 3.7713555396147003e+149],
 [3.2293517987314236e+149, 6.8661388816632318e+149, 9.7223203334853992e+149],
 [9.6683024610178838e+149, 6.7129842231605339e+149, 8.3010156582096218e+149],
 [4.5971183966080305e+149, 3.1707756025806755e+149, 5.4255622831721901e+149],
 [6.0122337600659681e+149, 9.1302718997237238e+149, 4.0845736148814024e+149],
 [5.5091596489673558e+149, 4.1048530037665743e+149, 1.5238988111493434e+149],
 [4.0542049500209451e+148, 2.3318279067280857e+149, 6.0778421285422875e+149],
 [9.0482775315279956e+149, 8.6842551207654273e+147, 4.5920703541434477e+149]]
"""


def test_grid_interpolation_survives_coordinates_that_crash_qhull():
    """Regression: NUNO's scattered-to-grid interpolation segfaulted the process (qhull) on this cloud."""
    code = (
        "import numpy as np\n"
        "from graphops.decomposition.grids import GridSpec\n"
        "from graphops.decomposition.interpolate import GridScatter\n"
        f"p = np.array({QHULL_CRASH})\n"
        "values = GridScatter(p, GridSpec(p.min(0), p.max(0), (3, 3, 3)))(p[:, 0] / 1e149)\n"
        "assert np.isfinite(values).all()\n"
    )
    STATS["graph fuzz inputs"] += 1
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-1500:]}"
