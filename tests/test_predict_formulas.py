"""``graphops predict --source/--boundary`` with unsafe or non-finite formulas: one-line error, exit 2, no file."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from graphops.cli import main

ROOT = Path(__file__).resolve().parents[1]
MESH = ROOT / "meshes" / "t1.geo"


@pytest.fixture(scope="module")
def checkpoint(train_tiny_beno):
    return train_tiny_beno("formulas", n=4, seed=3, batch_size=2)[1]


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


def test_formula_beyond_float32_gives_a_finite_prediction_and_a_warning(checkpoint, tmp_path, capsys):
    """exp(1000*x) = 2.7e43 on t1.geo (x <= 0.1) is beyond float32: once wrote a NaN file with exit 0.

    Poisson is linear in (f, g), so predict divides the inputs into the training
    magnitudes and multiplies the prediction back: the file must be finite, the
    out-of-distribution report must name the source/boundary balance, and
    ``--strict`` must refuse to write anything.
    """
    import meshio
    import numpy as np

    out = tmp_path / "pred.vtu"
    args = ["predict", str(checkpoint), str(MESH), "--source", "exp(1000*x)", "--boundary", "0", "-o", str(out)]
    assert main(args) == 0
    captured = capsys.readouterr()
    report = captured.out + captured.err
    assert "warning: f.absmax/g.absmax" in report, report
    values = meshio.read(out).point_data["prediction"]
    assert np.isfinite(values).all() and np.abs(values).max() > 1e30

    strict_out = tmp_path / "strict.vtu"
    assert main(args[:-1] + [str(strict_out), "--strict"]) == 2
    assert not strict_out.exists()
