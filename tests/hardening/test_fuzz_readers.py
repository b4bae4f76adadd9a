"""Property-based tests: random, truncated and mutated mesh / point-cloud files fed to the readers.

For every format graphops reads (.msh ASCII and binary through gmsh; .vtu,
.inp, .obj, .ply through meshio; .npy, .csv, .xyz as point clouds) a valid
seed file is written, then hypothesis feeds ``read_mesh`` random bytes and
mutations of the seed (truncation, byte flips, deleted / repeated / inserted
chunks, numbers replaced by nan, inf, -1, huge values, swapped lines). Each
file must either read into a valid Mesh, which then builds a well-formed graph
or raises a GraphopsError, or raise a one-line GraphopsError naming the file.
Nothing may crash with another exception or hang.
"""
import re
from pathlib import Path

import meshio
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from graphops.errors import GraphopsError
from graphops.graph import mesh_to_graph, point_cloud_to_graph
from graphops.io import read_mesh, write_mesh, write_point_cloud
from graphops.io.write import _prepare_for_gmsh, to_meshio
from graphops.mesh import Mesh
from hardening_helpers import FUZZ, STATS, examples, assert_clean_error, check_graph, no_hang

#: A float64 -> float32 cast that overflows means a silent inf in a graph feature: a failure.
pytestmark = pytest.mark.filterwarnings("error:overflow encountered in cast:RuntimeWarning")

ROOT = Path(__file__).resolve().parents[2]

#: Seed files: name -> how to write it from the small 2D square mesh, the 3D cube mesh or a point cloud.
SEEDS = ["ascii41.msh", "binary22.msh", "ascii22.msh", "ascii.vtu", "binary.vtu", "cube.inp", "square.obj",
         "ascii.ply", "binary.ply", "cloud.npy", "cloud.csv", "cloud.xyz"]


def _write_seed(path, square: Mesh, cube: Mesh) -> None:
    name = path.name
    if name.endswith(".msh"):
        raw = to_meshio(square)
        _prepare_for_gmsh(raw)
        fmt = "gmsh" if name.startswith("ascii41") else "gmsh22"
        meshio.write(path, raw, file_format=fmt, binary=name.startswith("binary"))
    elif name.endswith(".vtu"):
        meshio.write(path, to_meshio(square), binary=name.startswith("binary"))
    elif name.endswith(".ply"):
        meshio.write(path, to_meshio(square), binary=name.startswith("binary"))
    elif name.endswith(".inp"):
        write_mesh(path, cube)
    elif name.endswith(".obj"):
        write_mesh(path, square)
    else:
        rng = np.random.default_rng(0)
        cloud = Mesh(rng.random((30, 3)), {}, {"t": rng.random(30)})
        write_point_cloud(path, cloud)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory, square_mesh, cube_mesh):
    """Seed file bytes by name (gmsh meshes from tests/conftest.py), and a folder for the fuzzed files."""
    square, cube = square_mesh, cube_mesh
    folder = tmp_path_factory.mktemp("seeds")
    out = SeedFiles(fuzz=tmp_path_factory.mktemp("fuzz"))
    for name in SEEDS:
        _write_seed(folder / name, square, cube)
        out[name] = (folder / name).read_bytes()
        read_mesh(folder / name)  # every seed itself is readable
    out.good_msh = folder / "ascii41.msh"
    return out


class SeedFiles(dict):
    """Seed bytes by file name, plus ``fuzz``: the folder the fuzzed files go to (short repr for reports)."""

    def __init__(self, fuzz):
        super().__init__()
        self.fuzz = fuzz

    def __repr__(self) -> str:
        return f"SeedFiles({sorted(self)})"


NUMBERS = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
REPLACEMENTS = [b"nan", b"inf", b"-inf", b"-1", b"0", b"1e308", b"-1e308", b"1e-320", b"99999999999", b"3.5",
                b"", b"x", b"1e39", b"2147483648"]


@st.composite
def mutations(draw, blob: bytes) -> bytes:
    """One to three random edits of ``blob``."""
    data = bytearray(blob)
    for _ in range(draw(st.integers(1, 3))):
        n = len(data)
        op = draw(st.sampled_from(["truncate", "flip", "delete", "repeat", "insert", "number", "number", "swap lines"]))
        at = draw(st.integers(0, max(n - 1, 0)))
        if op == "truncate":
            data = data[:at]
        elif op == "flip" and n:
            for _ in range(draw(st.integers(1, 8))):
                data[draw(st.integers(0, n - 1))] = draw(st.integers(0, 255))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 200))]
        elif op == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "number":
            found = list(NUMBERS.finditer(bytes(data)))
            if found:
                m = found[draw(st.integers(0, len(found) - 1))]
                data[m.start() : m.end()] = draw(st.sampled_from(REPLACEMENTS))
        elif op == "swap lines":
            lines = bytes(data).split(b"\n")
            if len(lines) > 2:
                i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
                data = bytearray(b"\n".join(lines))
    return bytes(data)


def _feed(path, blob: bytes) -> str:
    """Write ``blob`` to ``path``, read it and build a graph; return what happened."""
    path.write_bytes(blob)
    STATS["reader fuzz inputs"] += 1
    try:
        with no_hang(30, f"reading {path.name}"):
            mesh = read_mesh(path)
    except GraphopsError as exc:
        assert_clean_error(exc, path.name)
        STATS["reader fuzz: clean GraphopsError"] += 1
        return "error"
    STATS["reader fuzz: file read"] += 1
    assert mesh.points.ndim == 2 and mesh.points.shape[1] in (2, 3) and np.isfinite(mesh.points).all()
    mesh.validate()
    try:
        with no_hang(30, f"graph of {path.name}"):
            if mesh.volume_cells():
                data, boundary = mesh_to_graph(mesh, radius=0.2), True
            else:
                data, boundary = point_cloud_to_graph(mesh, k=4), False
    except GraphopsError as exc:
        assert_clean_error(exc)
        STATS["reader fuzz: clean GraphopsError from the graph builder"] += 1
        return "graph error"
    check_graph(data, mesh.num_points, mesh.geometric_dim, boundary=boundary)
    STATS["reader fuzz: graph built"] += 1
    return "graph"


def _feed_then_good(path, blob: bytes, good) -> str:
    """:func:`_feed`, then check that a good file still reads: a bad file must not poison gmsh's state."""
    outcome = _feed(path, blob)
    if path.suffix in (".msh", ".geo"):
        read_mesh(good)
    return outcome


@pytest.mark.parametrize("name", SEEDS)
@settings(FUZZ, max_examples=examples(25))
@given(data=st.data())
def test_mutated_files_read_or_fail_cleanly(seeds, name, data):
    blob = data.draw(mutations(seeds[name]), label="file bytes")
    _feed_then_good(seeds.fuzz / f"mutated-{name}", blob, seeds.good_msh)


@pytest.mark.parametrize("ext", [".msh", ".vtu", ".inp", ".obj", ".ply", ".npy", ".csv", ".xyz"])
@settings(FUZZ, max_examples=examples(15))
@given(blob=st.one_of(st.binary(min_size=1, max_size=400),
                      st.text(alphabet="0123456789 .,-+eE\nnaif$ENDMshFormat", min_size=1, max_size=300).map(str.encode)))
def test_random_bytes_read_or_fail_cleanly(seeds, ext, blob):
    _feed_then_good(seeds.fuzz / f"random{ext}", blob, seeds.good_msh)


def test_every_truncation_of_a_small_binary_msh(seeds):
    """Exhaustive: the binary gmsh file cut at every 7th byte."""
    blob = seeds["binary22.msh"]
    outcomes = {_feed(seeds.fuzz / "cut.msh", blob[:n]) for n in range(1, len(blob), 7)}
    assert "error" in outcomes


BROKEN_GEO = {
    "unknown variable": b"Point(1) = {0, 0, 0, lc};\n",
    "stray brace": b"}4E7 x",
    "binary": bytes(range(1, 256)) * 2,
    "unterminated string": b'Printf("abc',
}


@pytest.mark.parametrize("kind", sorted(BROKEN_GEO))
def test_a_broken_geo_does_not_break_the_next_read(tmp_path, kind):
    """Regression: gmsh's parser kept the rest of a broken file and prepended it to the next file it parsed."""
    bad = tmp_path / "broken.geo"
    bad.write_bytes(BROKEN_GEO[kind])
    STATS["reader faults injected"] += 1
    with pytest.raises(GraphopsError) as err:
        read_mesh(bad)
    assert_clean_error(err.value, "broken.geo")
    assert read_mesh(ROOT / "meshes" / "t1.geo").num_cells() > 0


def test_a_msh_file_is_never_run_as_a_geo_script(tmp_path):
    """Regression: gmsh runs a .msh that does not start with $MeshFormat as a .geo script (System "..." included)."""
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.msh"
    evil.write_text(f'System "touch {marker}";\nPoint(1) = {{0, 0, 0}};\n')
    STATS["reader faults injected"] += 1
    with pytest.raises(GraphopsError, match="must start with \\$MeshFormat") as err:
        read_mesh(evil)
    assert_clean_error(err.value, "evil.msh")
    assert not marker.exists(), "reading a .msh file ran a shell command"
