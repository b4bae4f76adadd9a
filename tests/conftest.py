"""Shared fixtures: real meshes generated with gmsh inside the tests."""
from __future__ import annotations

import math
import os
from pathlib import Path

# One thread everywhere, in this process and in every subprocess the tests start: the small
# graphs of the tests run fastest that way on 2 cores, and a run interrupted in a subprocess
# then reproduces an in-process run bit for bit (same thread layout, same float reductions).
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

from graphops.gmsh_model import gmsh_session, mesh_from_gmsh_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED_MESHES = ROOT.parent / "shared" / "meshes"
SHIPPED_MESHES = ROOT / "meshes"


def _generate(build, dim: int, recombine: bool = False):
    with gmsh_session() as gmsh:
        gmsh.clear()
        gmsh.model.add("test")
        build(gmsh)
        gmsh.model.occ.synchronize() if gmsh.model.occ.getEntities() else None
        gmsh.model.geo.synchronize()
        if recombine:
            gmsh.option.setNumber("Mesh.RecombineAll", 1)
        gmsh.model.mesh.generate(dim)
        mesh = mesh_from_gmsh_model()
        gmsh.option.setNumber("Mesh.RecombineAll", 0)
        gmsh.clear()
    return mesh


def unit_square(h: float = 0.1, recombine: bool = False):
    def build(gmsh):
        gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
        gmsh.model.occ.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMax", h)

    return _generate(build, 2, recombine)


def square_with_holes(h: float = 0.05):
    def build(gmsh):
        occ = gmsh.model.occ
        sq = occ.addRectangle(0, 0, 0, 1, 1)
        holes = [occ.addDisk(0.3, 0.3, 0, 0.1, 0.1), occ.addDisk(0.7, 0.6, 0, 0.15, 0.15)]
        occ.cut([(2, sq)], [(2, t) for t in holes])
        occ.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMax", h)

    return _generate(build, 2)


def unit_disk(h: float = 0.05):
    def build(gmsh):
        gmsh.model.occ.addDisk(0, 0, 0, 1, 1)
        gmsh.model.occ.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMax", h)

    return _generate(build, 2)


def unit_cube(h: float = 0.25):
    def build(gmsh):
        gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
        gmsh.model.occ.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMax", h)

    return _generate(build, 3)


def mixed_square():
    """Left half triangles, right half quads (a mixed 2D mesh)."""

    def build(gmsh):
        occ = gmsh.model.occ
        occ.addRectangle(0, 0, 0, 0.5, 1)
        occ.addRectangle(0.5, 0, 0, 0.5, 1)
        occ.fragment([(2, 1)], [(2, 2)])
        occ.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.1)
        gmsh.model.mesh.setRecombine(2, 2)

    return _generate(build, 2)


def extruded_cube(n: int = 4, hexahedra: bool = True):
    """A unit cube extruded from a square: structured hexahedra, or wedges over triangles."""

    def build(gmsh):
        geo = gmsh.model.geo
        p = [geo.addPoint(x, y, 0) for x, y in [(0, 0), (1, 0), (1, 1), (0, 1)]]
        lines = [geo.addLine(p[i], p[(i + 1) % 4]) for i in range(4)]
        surf = geo.addPlaneSurface([geo.addCurveLoop(lines)])
        for line in lines:
            geo.mesh.setTransfiniteCurve(line, n + 1)
        geo.mesh.setTransfiniteSurface(surf)
        if hexahedra:
            geo.mesh.setRecombine(2, surf)
        geo.extrude([(2, surf)], 0, 0, 1, numElements=[n], recombine=True)

    return _generate(build, 3)


@pytest.fixture(scope="session")
def train_tiny_beno(tmp_path_factory):
    """Factory: ``make(name, n, seed, batch_size) -> (dataset root, checkpoint)``.

    Generates ``n`` tiny 4-cut-out ``poisson-dirichlet`` samples (``seed``) and
    trains a BENO of width 8 and one layer on them for one epoch, in a fresh
    folder named ``name``: a real checkpoint for the predict, evaluate and
    kill tests in seconds.
    """
    from graphops.data import generate_dataset
    from graphops.train import train

    def make(name: str, n: int, seed: int, batch_size: int):
        torch.set_num_threads(1)
        root = tmp_path_factory.mktemp(name)
        data = generate_dataset("poisson-dirichlet", n, root / "data", tiny=True, seed=seed, cutouts=[4],
                                progress=False)
        config = {
            "data": {"root": str(data), "val_fraction": 0.0, "test_fraction": 0.0},
            "model": {"name": "beno", "hidden": 8, "layers": 1},
            "train": {"epochs": 1, "batch_size": batch_size, "device": "cpu"},
            "out": str(root / "run"),
        }
        return data, train(config, progress=False)

    return make


@pytest.fixture
def one_torch_thread():
    """One torch thread during the test, whatever the code under test sets; the previous count restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def cutout_mesh():
    """A coarse BENO-protocol domain: seed 5, mesh size 0.1, two corner cut-outs."""
    from graphops.geometry import cutout_square

    return cutout_square(5, 0.1, 2)


@pytest.fixture(scope="session")
def square_mesh():
    return unit_square(0.1)


@pytest.fixture(scope="session")
def holes_mesh():
    return square_with_holes()


@pytest.fixture(scope="session")
def disk_mesh():
    return unit_disk()


@pytest.fixture(scope="session")
def cube_mesh():
    return unit_cube()


@pytest.fixture(scope="session")
def quad_mesh():
    return unit_square(0.1, recombine=True)


@pytest.fixture(scope="session")
def mixed_mesh():
    return mixed_square()


@pytest.fixture(scope="session")
def hex_mesh():
    return extruded_cube(4, hexahedra=True)


@pytest.fixture(scope="session")
def wedge_mesh():
    return extruded_cube(4, hexahedra=False)


@pytest.fixture
def t1_geo():
    shared = SHARED_MESHES / "t1.geo"
    return shared if shared.exists() else SHIPPED_MESHES / "t1.geo"


