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


@pytest.mark.parametrize("argv,message", [
    (["--problem", "laplace", "--n", "2"], "unknown problem 'laplace' (known: elasticity-holes"),
    (["--problem", "poisson-mixed", "--n", "0"], "n (number of samples) must be an integer >= 1, got 0"),
    (["--problem", "poisson-mixed", "--n", "2", "--cutouts", "0,9"], "cutouts must be integers in 0..4"),
    (["--problem", "elasticity-holes", "--n", "2", "--cutouts", "4"], "problem 'elasticity-holes' has no option 'cutouts'"),
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
