"""The main job at a tiny size: every stage runs and leaves its outputs."""
import json

import torch

from graphops.demo import run_demo


def test_demo_tiny(tmp_path):
    torch.set_num_threads(1)
    result = run_demo(tmp_path, n_train=10, n_test_per_family=1, epochs=1, mesh_size=0.1, model={"name": "beno", "hidden": 8, "layers": 1}, workers=1)
    assert (tmp_path / "beno" / "best.pt").exists() and (tmp_path / "beno" / "metrics.csv").exists()
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    assert evaluation["overall"]["samples"] == 5
    for name in ("plate_with_hole", "l_bracket"):
        assert (tmp_path / "predictions" / f"{name}.vtu").exists() and (tmp_path / "predictions" / f"{name}.png").exists()
    assert "| 4 | yes |" in (tmp_path / "results.md").read_text()
    # re-running resumes: nothing is regenerated or retrained
    mtime = (tmp_path / "beno" / "best.pt").stat().st_mtime
    again = run_demo(tmp_path, n_train=10, n_test_per_family=1, epochs=1, mesh_size=0.1, model={"name": "beno", "hidden": 8, "layers": 1}, workers=1)
    assert (tmp_path / "beno" / "best.pt").stat().st_mtime == mtime
    assert again["evaluation"]["overall"]["rel_l2"] == result["evaluation"]["overall"]["rel_l2"]
