"""Train on files written by another solver: NGSolve results in, graphops models out.

graphops never sees NGSolve: this script uses NGSolve (its own meshing with
netgen.occ, its own finite elements) to write ordinary ``.vtu`` files, as any
user's solver would, then runs the user's path through graphops:

1. **NGSolve writes the data** (``ngsolve_data/``):

   * ``heat2d/plate_*.vtu``: steady heat conduction ``-div(k grad T) = q`` on
     unit plates with 1-3 random circular holes (triangles); ``T = T_bc`` on
     the outer sides, insulated holes. Point data: conductivity ``k``, source
     ``q``, the marked boundary ``dirichlet`` (1 on the outer sides) with its
     temperature ``T_bc``, and NGSolve's solution ``T`` (P2, taken at the
     vertices).
   * ``elastic3d/block_*.vtu``: linear elasticity of a 2 x 1 x 1 block with 1-2
     random cylindrical holes (tetrahedra), clamped at ``x = 0`` and loaded by a
     body force. Point data: Young's modulus field ``E``, ``body_force``
     (3 components), the clamped face ``fixed``, and NGSolve's ``displacement``
     (P2, at the vertices; 3 components).

2. **graphops imports** them (:func:`graphops.data.importer.import_dataset`,
   the library side of ``graphops import``), **trains** a model on each
   (:func:`graphops.train.train`), **evaluates** it on held-out shapes and
   **predicts** on a new shape that NGSolve also solved, writing the prediction
   under the original names and the error against NGSolve.

Run ``python examples/06_independent_solver_data.py`` (needs ``pip install
ngsolve``; a few minutes on 2 cores). ``--small`` is the reduced run of the tests.
The writer functions are reused by ``benchmarks/import.py``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

NAME = "06_independent_solver_data"

#: Full size / ``--small`` settings.
SIZES = {
    "full": {"n_heat": 96, "n_elastic": 40, "heat_maxh": 0.05, "elastic_maxh": 0.2, "epochs": 30,
             "model": {"name": "meshgraphnet", "hidden": 48, "layers": 6}},
    "small": {"n_heat": 6, "n_elastic": 4, "heat_maxh": 0.12, "elastic_maxh": 0.4, "epochs": 2,
              "model": {"name": "meshgraphnet", "hidden": 8, "layers": 2}},
}

HEAT_SPEC = {"inputs": ["k", "q"], "targets": ["T"], "boundary": {"marker": "dirichlet", "values": "T_bc"}}
ELASTIC_SPEC = {"inputs": ["E", "body_force"], "targets": ["displacement"], "boundary": {"marker": "fixed"}}


# ------------------------------------------------------------------ NGSolve side
def _ngsolve():
    import ngsolve

    ngsolve.SetNumThreads(1)
    return ngsolve


def _vertices(mesh) -> np.ndarray:
    return np.array([v.point for v in mesh.vertices], dtype=np.float64)


def _at_vertices(mesh, cf, points: np.ndarray) -> np.ndarray:
    """A NGSolve coefficient function or grid function evaluated at the mesh vertices: (N,) or (N, c)."""
    values = np.asarray(cf(mesh(*points.T)))
    return values[:, 0] if values.shape[1] == 1 else values


def _dirichlet_vertices(mesh, boundary: str) -> np.ndarray:
    """Vertices on the named boundary (the non-free dofs of a P1 space): (N,) float 0/1."""
    from ngsolve import H1

    free = H1(mesh, order=1, dirichlet=boundary).FreeDofs()
    return np.array([0.0 if free[i] else 1.0 for i in range(mesh.nv)])


def heat_plate(rng: np.random.Generator, maxh: float, order: int = 2):
    """One random plate: NGSolve mesh, its input fields and NGSolve's temperature.

    Returns
    -------
    points : (N, 2), triangles : (M, 3) int, point_data : dict (``k``, ``q``,
    ``dirichlet``, ``T_bc``, ``T``)
    """
    from netgen.occ import Circle, OCCGeometry, Rectangle
    from ngsolve import BND, H1, BilinearForm, GridFunction, LinearForm, Mesh, cos, dx, exp, grad, pi, sin, x, y

    plate = Rectangle(1, 1).Face()
    plate.edges.name = "outer"
    holes = []
    for _ in range(int(rng.integers(1, 4))):
        for _attempt in range(50):
            r = rng.uniform(0.07, 0.17)
            c = rng.uniform(r + 0.06, 1 - r - 0.06, size=2)
            if all(np.hypot(*(c - c2)) > r + r2 + 0.05 for c2, r2 in holes):
                holes.append((c, r))
                break
    for c, r in holes:
        disk = Circle((float(c[0]), float(c[1])), float(r)).Face()
        disk.edges.name = "hole"
        plate = plate - disk
    mesh = Mesh(OCCGeometry(plate, dim=2).GenerateMesh(maxh=maxh))
    a1, a2 = rng.uniform(-0.7, 0.7, size=2)
    w = rng.uniform(0.5, 2.0, size=2)
    k = exp(a1 * sin(pi * w[0] * x + rng.uniform(0, 3)) * cos(pi * w[1] * y) + a2 * x * y)
    q = 0
    for _ in range(int(rng.integers(1, 3))):
        cx, cy = rng.uniform(0.1, 0.9, size=2)
        q = q + rng.uniform(-20, 20) * exp(-((x - cx) ** 2 + (y - cy) ** 2) / rng.uniform(0.01, 0.05))
    p = rng.normal(size=4)
    g = p[0] + p[1] * x + p[2] * y + 0.5 * p[3] * sin(2 * pi * (x + y))
    fes = H1(mesh, order=order, dirichlet="outer")
    u, v = fes.TnT()
    a = BilinearForm(k * grad(u) * grad(v) * dx).Assemble()
    f = LinearForm(q * v * dx).Assemble()
    temperature = GridFunction(fes, name="T")
    temperature.Set(g, BND, definedon=mesh.Boundaries("outer"))
    residual = f.vec - a.mat * temperature.vec
    temperature.vec.data += a.mat.Inverse(fes.FreeDofs(), inverse="sparsecholesky") * residual
    pts = _vertices(mesh)
    marker = _dirichlet_vertices(mesh, "outer")
    tri = mesh.ngmesh.Elements2D().NumPy()["nodes"][:, :3].astype(np.int64) - 1
    data = {"k": _at_vertices(mesh, k, pts), "q": _at_vertices(mesh, q, pts), "dirichlet": marker,
            "T_bc": _at_vertices(mesh, g, pts) * marker, temperature.name: _at_vertices(mesh, temperature, pts)}
    return pts, tri, data


def elastic_block(rng: np.random.Generator, maxh: float, order: int = 2):
    """One random holed block: NGSolve mesh, Young's modulus field, body force and NGSolve's displacement.

    Returns
    -------
    points : (N, 3), tetra : (M, 4) int, point_data : dict (``E``, ``body_force``
    (N, 3), ``fixed``, ``displacement`` (N, 3))
    """
    from netgen.occ import Y, Box, Cylinder, OCCGeometry, X
    from ngsolve import (CF, BilinearForm, GridFunction, Grad, Id, InnerProduct, LinearForm, Mesh, Sym, Trace,
                         VectorH1, cos, dx, pi, sin, x, z)

    block = Box((0, 0, 0), (2, 1, 1))
    holes = []
    for _ in range(int(rng.integers(1, 3))):
        for _attempt in range(50):
            r = rng.uniform(0.12, 0.25)
            c = np.array([rng.uniform(0.35 + r, 1.75 - r), rng.uniform(0.1 + r, 0.9 - r)])
            if all(np.hypot(*(c - c2)) > r + r2 + 0.08 for c2, r2 in holes):
                holes.append((c, r))
                break
    for c, r in holes:
        block = block - Cylinder((float(c[0]), 0, float(c[1])), Y, r=float(r), h=1)
    block.faces.Min(X).name = "fixed"
    mesh = Mesh(OCCGeometry(block).GenerateMesh(maxh=maxh))
    e0 = rng.uniform(50.0, 150.0)
    amp = rng.uniform(-0.5, 0.5)
    young = e0 * (1 + amp * sin(pi * x * rng.uniform(0.5, 1.5)) * cos(pi * z))
    nu = 0.3
    mu = young / (2 * (1 + nu))
    lam = young * nu / ((1 + nu) * (1 - 2 * nu))
    load = np.array([rng.normal(0, 0.3), rng.normal(0, 0.3), -1.0]) * rng.uniform(0.5, 1.5)
    force = CF(tuple(float(c) for c in load))
    fes = VectorH1(mesh, order=order, dirichlet="fixed")
    u, v = fes.TnT()

    def strain(w):
        return Sym(Grad(w))

    a = BilinearForm(InnerProduct(2 * mu * strain(u) + lam * Trace(strain(u)) * Id(3), strain(v)) * dx).Assemble()
    f = LinearForm(force * v * dx).Assemble()
    displacement = GridFunction(fes, name="displacement")
    displacement.vec.data = a.mat.Inverse(fes.FreeDofs(), inverse="sparsecholesky") * f.vec
    pts = _vertices(mesh)
    tet = mesh.ngmesh.Elements3D().NumPy()["nodes"][:, :4].astype(np.int64) - 1
    data = {"E": _at_vertices(mesh, young, pts), "body_force": np.tile(load, (len(pts), 1)),
            "fixed": _dirichlet_vertices(mesh, "fixed"),
            displacement.name: _at_vertices(mesh, displacement, pts)}
    return pts, tet, data


def write_vtu(path: Path, points: np.ndarray, cells: np.ndarray, point_data: Dict[str, np.ndarray]) -> Path:
    """An ordinary VTU file (meshio), point data under the names given."""
    import meshio

    ctype = "triangle" if cells.shape[1] == 3 else "tetra"
    if points.shape[1] == 2:  # VTU points are 3D
        points = np.concatenate([points, np.zeros((len(points), 1))], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    meshio.write(path, meshio.Mesh(points, [(ctype, cells)], point_data=point_data), binary=True)
    return path


def write_dataset_files(folder: Path, kind: str, n: int, maxh: float, seed: int = 0, start: int = 0) -> list:
    """Write ``n`` NGSolve samples of ``kind`` ("heat" or "elastic") as VTU files (existing files are kept)."""
    _ngsolve()
    make, stem = (heat_plate, "plate") if kind == "heat" else (elastic_block, "block")
    paths = []
    for i in range(start, start + n):
        path = folder / f"{stem}_{i:04d}.vtu"
        if not path.exists():
            pts, cells, data = make(np.random.default_rng([seed, i]), maxh)
            write_vtu(path, pts, cells, data)
        paths.append(path)
    return paths


# ------------------------------------------------------------------ graphops side
def train_and_check(name: str, files: Path, spec: dict, new_shape: Path, target: str, out: Path,
                    size: dict) -> Dict[str, float]:
    """Import ``files``, train, evaluate on held-out shapes, predict on ``new_shape``, compare with NGSolve."""
    import meshio

    from graphops.data.importer import import_dataset
    from graphops.predict import predict
    from graphops.train import train

    data = import_dataset(files, spec, out / f"{name}_data", progress=False)
    run = {
        # every file is its own shape (family 0): hold out a fraction of them as the test set
        "data": {"root": str(data), "train_families": [0], "test_families": [0], "val_fraction": 0.15,
                 "test_fraction": 0.15},
        "model": dict(size["model"]),
        "train": {"epochs": size["epochs"], "batch_size": 4, "lr": 2e-3, "scheduler": "cosine", "device": "cpu"},
        "out": str(out / f"{name}_run"),
    }
    best = train(run, progress=False)
    test = json.loads((out / f"{name}_run" / "test_metrics.json").read_text())
    result = predict(best, new_shape, out=out / f"{name}_prediction.vtu", compare_fem=True)
    # the comparison, from the files: graphops' prediction (written under NGSolve's name) vs NGSolve's solution
    truth = np.asarray(meshio.read(new_shape).point_data[target])
    guess = np.asarray(meshio.read(out / f"{name}_prediction.vtu").point_data[target])
    guess = guess[:, : truth.shape[1]] if truth.ndim == 2 else guess
    rel = float(np.linalg.norm(guess - truth) / np.linalg.norm(truth))
    if truth.ndim == 1 and result.mesh.geometric_dim == 2:
        from graphops.viz.fields import plot_fields

        plot_fields(result.mesh, {f"{target} (graphops)": guess, f"{target} (NGSolve)": truth,
                                  "graphops - NGSolve": guess - truth}, out / f"{name}_prediction.png",
                    f"{size['model']['name']} on a new shape (relative L2 {rel:.3f})",
                    shared_scale=(f"{target} (graphops)", f"{target} (NGSolve)"))
    return {"test_rel_l2": float(test["overall"]["rel_l2"]), "test_samples": int(test["overall"]["samples"]),
            "new_shape_rel_l2_vs_ngsolve": rel}


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("examples_output") / NAME, help="output folder")
    ap.add_argument("--small", action="store_true", help="reduced size used by the tests")
    ap.add_argument("--epochs", type=int, default=None, help="training epochs per model")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    size = dict(SIZES["small" if args.small else "full"])
    if args.epochs is not None:
        size["epochs"] = args.epochs
    try:
        _ngsolve()
    except ImportError:
        print("this example needs NGSolve: pip install ngsolve", file=sys.stderr)
        return 1
    out = args.out.resolve()
    raw = out / "ngsolve_data"
    print(f"NGSolve writes {size['n_heat']} plates and {size['n_elastic']} blocks to {raw}", flush=True)
    write_dataset_files(raw / "heat2d", "heat", size["n_heat"], size["heat_maxh"])
    write_dataset_files(raw / "elastic3d", "elastic", size["n_elastic"], size["elastic_maxh"])
    # a new shape of each kind (a seed no training file used), solved by NGSolve for the comparison
    new_heat = write_dataset_files(raw / "new", "heat", 1, size["heat_maxh"], seed=1)[0]
    new_block = write_dataset_files(raw / "new", "elastic", 1, size["elastic_maxh"], seed=1)[0]
    results = {
        "heat2d": train_and_check("heat2d", raw / "heat2d", HEAT_SPEC, new_heat, "T", out, size),
        "elastic3d": train_and_check("elastic3d", raw / "elastic3d", ELASTIC_SPEC, new_block, "displacement", out,
                                     size),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    for name, row in results.items():
        print(f"{name}: relative L2 on held-out shapes {row['test_rel_l2']:.3f}, on the new shape against NGSolve "
              f"{row['new_shape_rel_l2_vs_ngsolve']:.3f}")
    print(f"outputs in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
