"""Every script in examples/ runs at its reduced size (``--small``) and writes what it promises.

Each script runs as a user would run it (a subprocess with ``--small --out DIR``),
with one math thread, and must exit 0, write valid non-empty PNGs and its other
files, and say where its outputs are.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import meshio
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: script -> (PNG files, other files) it must write under --out.
EXPECTED = {
    "01_mesh_to_graph.py": (["graph.png"], ["mesh_with_features.vtu", "graph.pt"]),
    "02_generate_dataset.py": (["gallery.png", "sample_000.png"], ["data/manifest.json", "data/shards/shard-00000.npz"]),
    "03_beno_train_predict.py": (["training.png", "plate_with_hole.png"],
                                 ["plate_with_hole.vtu", "beno/best.pt", "beno/metrics.csv"]),
    "04_nuno_point_cloud.py": (["decomposition.png", "prediction.png"], ["nuno/best.pt", "test_result.json"]),
    "05_giorom_rollout.py": (["frames.png", "error.png"],
                             ["giorom.pt", "initial.vtu", "rollout/rollout.pvd", "rollout/frame_0000.vtu",
                              "rollout/frame_0004.vtu", "rollout/rollout.gif"]),
    "06_independent_solver_data.py": (["heat2d_prediction.png"],
                                      ["results.json", "heat2d_prediction.vtu", "elastic3d_prediction.vtu",
                                       "heat2d_run/best.pt", "ngsolve_data/heat2d/plate_0000.vtu"]),
}
#: scripts that need an optional package (skipped without it)
NEEDS = {"06_independent_solver_data.py": "ngsolve"}


def run_example(script: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MPLBACKEND="Agg", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, str(EXAMPLES / script), "--small", "--out", str(out), *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_every_example_is_tested():
    scripts = sorted(p.name for p in EXAMPLES.glob("[0-9]*.py"))
    assert scripts == sorted(EXPECTED)


def test_readme_lists_every_example():
    readme = (EXAMPLES / "README.md").read_text()
    for script in EXPECTED:
        assert script in readme


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs_small(script, tmp_path):
    if script in NEEDS:
        pytest.importorskip(NEEDS[script])
    out = tmp_path / Path(script).stem
    proc = run_example(script, out)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    pngs, others = EXPECTED[script]
    for name in pngs:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1000, name
    for name in others:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert str(out.resolve()) in proc.stdout  # it says where its outputs are
    if script == "01_mesh_to_graph.py":
        check_mesh_features(out / "mesh_with_features.vtu", proc.stdout)


def check_mesh_features(vtu: Path, stdout: str) -> None:
    """The VTU of example 01 carries the graph's boundary features for every node of the shipped mesh."""
    mesh = meshio.read(vtu)
    boundary = mesh.point_data["boundary"].astype(bool)
    assert 0 < boundary.sum() < len(mesh.points)
    assert np.all(mesh.point_data["boundary_distance"][boundary] < 1e-9)
    assert np.all(mesh.point_data["boundary_distance"][~boundary] > 0)
    assert np.all(mesh.point_data["degree"] >= 2)
    assert "== the graph ==" in stdout and "degree: min" in stdout


def test_a_bad_mesh_path_is_a_clean_error(tmp_path):
    """A wrong path is reported in one line (exit 2) naming the file, before anything is written."""
    proc = run_example("01_mesh_to_graph.py", tmp_path, "--mesh", str(tmp_path / "missing.msh"))
    assert proc.returncode == 2
    assert "missing.msh" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "graph.png").exists()
