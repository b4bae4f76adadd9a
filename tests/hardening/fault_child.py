"""Run graphops writers against a faulty destination and report, as JSON lines, how each one failed.

Started by ``test_output_dirs.py`` as ``python fault_child.py SPEC.json``. SPEC holds
``dest`` (the output folder), ``inputs`` (``dataset``: a generated dataset,
``checkpoint``: a field-model checkpoint, ``mesh``: a mesh file), ``ops`` (names
below) and ``fsize_limit`` (bytes; when set, ``RLIMIT_FSIZE`` makes the kernel
fail every write past that size, the way a full disk fails them).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import sys
import traceback
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import Delaunay

from graphops.cli import main
from graphops.data import generate_dataset
from graphops.errors import GraphopsError
from graphops.io import write_mesh, write_point_cloud
from graphops.mesh import Mesh
from graphops.models import build_model
from graphops.predict import predict
from graphops.train import train
from graphops.train.checkpoint import save_checkpoint

torch.set_num_threads(1)

TRAIN_MODEL = {"name": "beno", "hidden": 8, "layers": 1, "mlp_layers": 1, "boundary_layers": 1,
               "max_boundary_tokens": 16}


def train_config(dataset: str, out: str) -> dict:
    return {"data": {"root": dataset, "val_fraction": 0.0, "test_fraction": 0.0}, "model": dict(TRAIN_MODEL),
            "train": {"epochs": 1, "batch_size": 2, "device": "cpu", "seed": 0}, "out": out}


def big_mesh() -> Mesh:
    pts = np.random.default_rng(0).random((2000, 2))
    return Mesh(pts, {"triangle": Delaunay(pts).simplices})


def operations(dest: Path, inputs: dict) -> dict:
    mesh = big_mesh()
    return {
        "write_mesh": lambda: write_mesh(dest / "mesh.vtu", mesh),
        "write_point_cloud": lambda: write_point_cloud(dest / "cloud.csv", Mesh(mesh.points)),
        "save_checkpoint": lambda: save_checkpoint(dest / "model.pt", build_model(dict(TRAIN_MODEL))),
        "generate": lambda: generate_dataset("poisson-dirichlet", 3, dest / "ds", tiny=True, seed=0, shard_size=1,
                                             progress=False),
        "train": lambda: train(train_config(inputs["dataset"], str(dest / "run")), progress=False),
        "predict": lambda: predict(inputs["checkpoint"], inputs["mesh"], boundary="x", out=dest / "pred.vtu"),
        "cli predict": lambda: main(["predict", inputs["checkpoint"], inputs["mesh"], "--boundary", "x",
                                     "-o", str(dest / "cli.vtu")]),
    }


def run(spec: dict) -> None:
    dest = Path(spec["dest"])
    ops = operations(dest, spec["inputs"])
    try:  # is the fault really there? (root without CAP_DAC_OVERRIDE dropped writes anywhere)
        (dest / ".probe").write_text("x" * 100_000)
        enforced = spec.get("fsize_limit") is not None
        (dest / ".probe").unlink()
    except OSError:
        enforced = True
    if spec.get("fsize_limit") is not None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (spec["fsize_limit"], resource.RLIM_INFINITY))
    print(json.dumps({"op": "probe", "enforced": enforced}), flush=True)
    for name in spec["ops"]:
        err = io.StringIO()
        record = {"op": name}
        try:
            with contextlib.redirect_stderr(err):
                result = ops[name]()
            record.update(ok=True, result=result if isinstance(result, int) else None)
        except GraphopsError as exc:
            record.update(ok=False, graphops=True, type=type(exc).__name__, message=str(exc))
        except Exception as exc:  # a bug: report it with its traceback
            record.update(ok=False, graphops=False, type=type(exc).__name__, message=str(exc),
                          traceback=traceback.format_exc()[-1500:])
        record["stderr"] = err.getvalue()[-2000:]
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    run(json.loads(Path(sys.argv[1]).read_text()))
