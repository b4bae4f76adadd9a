"""``graphops predict --source/--boundary`` with unsafe or non-finite formulas: one-line error, exit 2, no file."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from graphops.cli import main

ROOT = Path(__file__).resolve().parents[1]
MESH = ROOT / "meshes" / "t1.geo"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from graphops.data import generate_dataset
    from graphops.train import train

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("formulas")
    data = generate_dataset("poisson-dirichlet", 4, root / "data", tiny=True, seed=3, cutouts=[4], progress=False)
    config = {
        "data": {"root": str(data), "val_fraction": 0.0, "test_fraction": 0.0},
        "model": {"name": "beno", "hidden": 8, "layers": 1},
        "train": {"epochs": 1, "batch_size": 2, "device": "cpu"},
        "out": str(root / "run"),
    }
    return train(config, progress=False)


@pytest.mark.parametrize(
    "flag,formula,match",
    [
        ("--source", "1/0", "division by zero"),
        ("--source", "2**10000", "overflows float64"),
        ("--source", "9**9**9", "overflows float64"),
        ("--source", "x if x > 0 else 0", "use where"),
        ("--source", "exp(1000*(x + 1))", r"exp\(\) is not finite"),
        ("--boundary", "x > 0 and y > 0", "use where"),
        ("--boundary", "log(x - 100)", r"log\(\) is not finite"),
    ],
)
def test_bad_formula_is_a_one_line_error_and_writes_nothing(checkpoint, tmp_path, capsys, flag, formula, match):
    import re

    out = tmp_path / "pred.vtu"
    other = "--boundary" if flag == "--source" else "--source"
    code = main(["predict", str(checkpoint), str(MESH), flag, formula, other, "0", "-o", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("graphops: error:") and len(err.splitlines()) == 1 and re.search(match, err), err
    assert "Traceback" not in err
    assert not out.exists() and not out.with_suffix(".png").exists()


def test_bad_formula_in_a_subprocess_exits_non_zero_without_traceback(checkpoint, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for formula in ("9**9**9",):
        proc = subprocess.run(
            [sys.executable, "-m", "graphops", "predict", str(checkpoint), str(MESH), "--boundary", "0",
             "--source", formula, "-o", str(tmp_path / "p.vtu")],
            capture_output=True, text=True, timeout=120, env=env,
        )
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.xfail(strict=True, reason="BUG (graphops/predict.py, not this test): inputs finite in float64 but beyond "
                   "float32 (exp(1000*x) = 2.7e43 on t1.geo, x <= 0.1) are cast to float32 inf and predict writes a "
                   "non-finite prediction with exit 0; remove this marker once predict checks the float32 inputs/outputs")
def test_formula_beyond_float32_is_an_error_not_a_nan_file(checkpoint, tmp_path, capsys):
    out = tmp_path / "pred.vtu"
    code = main(["predict", str(checkpoint), str(MESH), "--source", "exp(1000*x)", "--boundary", "0", "-o", str(out)])
    assert code == 2 and not out.exists(), capsys.readouterr().err
