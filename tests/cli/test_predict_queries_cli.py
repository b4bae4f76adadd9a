"""graphops predict with several queries: paired --source/--boundary, --queries FILE, clear errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from graphops.cli import main
from graphops.cli.predict import cli_queries, read_queries
from graphops.errors import ConfigError
from graphops.io import read_mesh, write_mesh
from graphops.models import build_model
from graphops.train.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from graphops.geometry import cutout_square

    root = tmp_path_factory.mktemp("queries")
    torch.manual_seed(0)
    ckpt = save_checkpoint(root / "gno.pt", build_model({"name": "gno", "hidden": 8}),
                           extra={"dataset": {"problem": "poisson-dirichlet"}})
    return ckpt, write_mesh(root / "square.vtu", cutout_square(5, 0.1, 2))


def test_paired_flags_write_one_file_per_query(setup, tmp_path, capsys):
    ckpt, mesh = setup
    out = tmp_path / "p.vtu"
    args = ["predict", str(ckpt), str(mesh), "--source", "1", "--boundary", "x", "--source", "0", "--boundary", "y",
            "-o", str(out), "--no-png"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "query 1: wrote vtu" in printed and "wrote query index" in printed
    first, second = read_mesh(tmp_path / "p_000.vtu"), read_mesh(tmp_path / "p_001.vtu")
    np.testing.assert_array_equal(first.point_data["f"], 1.0)
    np.testing.assert_array_equal(second.point_data["f"], 0.0)
    assert not np.allclose(first.point_data["prediction"], second.point_data["prediction"])
    assert (tmp_path / "p_001.ood.json").exists() and not out.exists()


def test_queries_file_yaml_and_csv_give_the_same_files(setup, tmp_path):
    ckpt, mesh = setup
    (tmp_path / "q.yaml").write_text("- {source: 'sin(pi*x)', boundary: 'x*y'}\n- {boundary: 2}\n")
    (tmp_path / "q.csv").write_text("source,boundary\nsin(pi*x),x*y\n,2\n")
    assert read_queries(tmp_path / "q.yaml") == [{"source": "sin(pi*x)", "boundary": "x*y"}, {"boundary": 2}]
    assert read_queries(tmp_path / "q.csv") == [{"source": "sin(pi*x)", "boundary": "x*y"}, {"boundary": "2"}]
    for kind in ("yaml", "csv"):
        assert main(["predict", str(ckpt), str(mesh), "--queries", str(tmp_path / f"q.{kind}"), "-o",
                     str(tmp_path / kind / "p.vtu"), "--no-png"]) == 0
    for i in range(2):
        a, b = (read_mesh(tmp_path / kind / f"p_00{i}.vtu").point_data["prediction"] for kind in ("yaml", "csv"))
        np.testing.assert_array_equal(a, b)
    index = json.loads((tmp_path / "csv" / "p.queries.json").read_text())
    assert [q["query"] for q in index["queries"]] == [0, 1]


def test_pairing_and_file_errors_are_clear(setup, tmp_path, capsys):
    ckpt, mesh = setup
    with pytest.raises(ConfigError, match="got 2 --source and 1 --boundary"):
        cli_queries(["1", "2"], ["x"], None)
    assert cli_queries(["1"], [], None) == {"source": "1", "boundary": None}
    assert cli_queries([], ["x", "y"], None) == {"source": None, "boundary": ["x", "y"]}
    out = tmp_path / "p.vtu"
    assert main(["predict", str(ckpt), str(mesh), "--source", "1", "--source", "2", "--boundary", "x", "-o", str(out)]) == 2
    assert "got 2 --source and 1 --boundary" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("source: x\n")
    (tmp_path / "bad.csv").write_text("source,boundary\n1,x,extra\n")
    (tmp_path / "empty.csv").write_text("source,boundary\n")
    for name, message in (("bad.yaml", "list of mappings"), ("bad.csv", "line 2 has more cells"),
                          ("empty.csv", "no queries"), ("missing.yaml", "cannot read")):
        assert main(["predict", str(ckpt), str(mesh), "--queries", str(tmp_path / name), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and name in err and err.count("\n") == 1
    assert main(["predict", str(ckpt), str(mesh), "--queries", str(tmp_path / "bad.yaml"), "--boundary", "x", "-o",
                 str(out)]) == 2
    assert "not both" in capsys.readouterr().err
    assert not out.exists()
