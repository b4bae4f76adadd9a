"""`graphops generate`: a thin wrapper with one-line errors and exit status 2."""
import pytest

from graphops.cli import main
from graphops.data import MeshDataset


def test_generate_writes_a_dataset(tmp_path, capsys):
    out = tmp_path / "ds"
    code = main(["generate", "--problem", "poisson-neumann", "--n", "3", "--out", str(out), "--tiny",
                 "--cutouts", "4", "--shard-size", "2", "--quiet"])
    assert code == 0 and "dataset ready" in capsys.readouterr().out
    ds = MeshDataset(out)
    assert len(ds) == 3 and all(d.family == 4 for d in ds)


def test_aspect_and_mesh_size_ranges_reach_the_problem(tmp_path, capsys):
    out = tmp_path / "ds"
    code = main(["generate", "--problem", "poisson-dirichlet", "--n", "2", "--out", str(out), "--aspect", "2,2.5",
                 "--mesh-size", "0.08,0.1", "--quiet"])
    assert code == 0
    for graph in MeshDataset(out):
        extent = (graph.pos.max(dim=0).values - graph.pos.min(dim=0).values).tolist()
        assert max(extent) == pytest.approx(1.0) and 2.0 - 1e-6 <= max(extent) / min(extent) <= 2.5 + 1e-6


@pytest.mark.parametrize("argv,message", [
    (["--problem", "laplace", "--n", "2"], "unknown problem 'laplace' (known: elasticity-holes"),
    (["--problem", "poisson-mixed", "--n", "0"], "n (number of samples) must be an integer >= 1, got 0"),
    (["--problem", "poisson-mixed", "--n", "2", "--cutouts", "0,9"], "cutouts must be integers in 0..4"),
    (["--problem", "elasticity-holes", "--n", "2", "--cutouts", "4"], "problem 'elasticity-holes' has no option 'cutouts'"),
    (["--problem", "elasticity-holes", "--n", "2", "--aspect", "2"], "problem 'elasticity-holes' has no option 'aspect'"),
    (["--problem", "poisson-dirichlet", "--n", "2", "--aspect", "1,2,3"], "aspect must be a number or a pair low,high"),
    (["--problem", "poisson-dirichlet", "--n", "2", "--mesh-size", "fine"], "mesh_size must be a number, got 'fine'"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, argv, message):
    code = main(["generate", *argv, "--out", str(tmp_path / "ds"), "--tiny", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert err.count("\n") == 1 and err.startswith("graphops: error: ")


def test_unwritable_output_exits_2(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    code = main(["generate", "--problem", "poisson-mixed", "--n", "2", "--out", str(tmp_path / "file" / "ds"), "--tiny"])
    assert code == 2 and "cannot create the output folder" in capsys.readouterr().err
