import json

import numpy as np

from graphops.cli import main


def test_info_text_and_json(t1_geo, capsys):
    assert main(["info", str(t1_geo)]) == 0
    out = capsys.readouterr().out
    assert "boundary:" in out and "'My surface': dim 2" in out and "'5': dim 1, tag 5" in out
    assert main(["info", "--json", str(t1_geo)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["cells"]["triangle"] > 0 and info["bounding_box"]["max"] == [0.1, 0.3]
    assert info["boundary"]["facets"]["line"] == info["boundary"]["nodes"]


def test_info_errors_are_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope.vtu")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"graphops: error: {tmp_path / 'nope.vtu'}: file not found"
    np.save(tmp_path / "empty.npy", np.zeros((0, 2)))
    assert main(["info", str(tmp_path / "empty.npy")]) == 2
    assert "the point cloud is empty" in capsys.readouterr().err


def test_console_script_runs(t1_geo):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "graphops", "info", str(t1_geo)], capture_output=True, text=True)
    assert out.returncode == 0 and "My surface" in out.stdout
