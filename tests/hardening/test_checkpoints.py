"""Checkpoints that are not what a command expects: another model kind, foreign or corrupted files.

Every case must end in a one-line CheckpointError naming the file, never in a
traceback from inside torch or the model, and opening a file must never run
code stored in it.
"""
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from graphops.cli import main
from graphops.errors import CheckpointError, GraphopsError
from graphops.models import build_model
from graphops.predict import predict
from graphops.rollout import rollout
from graphops.train import Trainer, load_model
from graphops.train.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint
from graphops.train.evaluate import evaluate
from hardening_helpers import FUZZ, STATS, assert_clean_error, examples

ROOT = Path(__file__).resolve().parents[2]
T1 = ROOT / "meshes" / "t1.geo"
sys.path.insert(0, str(ROOT / "tests" / "train"))
from train_helpers import poisson_dataset, run_config  # noqa: E402  (the training tests' small real data)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def field_ckpt(tmp_path_factory):
    """An (untrained) GNO field-model checkpoint that predict and evaluate accept."""
    path = tmp_path_factory.mktemp("field") / "gno.pt"
    return save_checkpoint(path, build_model({"name": "gno", "hidden": 4}),
                           extra={"dataset": {"problem": "poisson-dirichlet"}})


@pytest.fixture(scope="module")
def giorom_ckpt(tmp_path_factory):
    """A real GIOROM checkpoint (one training step on a simulated particle trajectory)."""
    from graphops.solvers.mpm import simulate_trajectory
    from graphops.train.dynamics import train_dynamics

    traj = simulate_trajectory({"n_particles": 60, "materials": ["jelly"], "n_objects": 1}, seed=0, n_frames=10)
    config = {"name": "giorom", "hidden": 8, "layers": 1, "material_dim": 4, "num_samples": 20,
              "radius": "auto", "decoder_radius": "auto", "decoder_hidden": 4}
    out = tmp_path_factory.mktemp("giorom") / "giorom.pt"
    return train_dynamics(config, [traj], out, steps=1, progress=False), traj


@pytest.fixture(scope="module")
def graphs():
    return poisson_dataset(2)


def _refused(call, path, match=None):
    STATS["checkpoint faults injected"] += 1
    with pytest.raises(CheckpointError, match=match) as err:
        call()
    assert_clean_error(err.value, Path(path).name)


def test_a_particle_model_is_refused_by_predict_and_evaluate(giorom_ckpt, graphs, capsys):
    ckpt, _ = giorom_ckpt
    _refused(lambda: predict(ckpt, T1, boundary="x"), ckpt, "'giorom' particle dynamics model; predict needs")
    _refused(lambda: evaluate(ckpt, graphs, device="cpu"), ckpt, "'giorom' particle dynamics model; evaluate")
    assert main(["predict", str(ckpt), str(T1), "--boundary", "x", "-o", str(Path(ckpt).with_suffix(".vtu"))]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("graphops: error: ") and "giorom.pt" in err and "\n" not in err


def test_a_field_model_is_refused_by_rollout_and_a_particle_run_folder_by_train(giorom_ckpt, field_ckpt, tmp_path):
    ckpt, traj = giorom_ckpt
    np.save(tmp_path / "initial.npy", traj["positions"][0])
    _refused(lambda: rollout(field_ckpt, tmp_path / "initial.npy", 1, tmp_path / "o", progress=False), field_ckpt,
             "rollout needs a particle dynamics model")
    out = tmp_path / "run"  # a BENO run folder whose last.pt is the GIOROM checkpoint
    out.mkdir()
    (out / "last.pt").write_bytes(Path(ckpt).read_bytes())
    STATS["checkpoint faults injected"] += 1
    with pytest.raises(GraphopsError) as err:
        Trainer(run_config(out, epochs=1), poisson_dataset(4), [], progress=False).fit()
    assert_clean_error(err.value, str(out))  # "out folder ... holds a run with a different config"


class _Evil:
    """Pickles to a call that would create ``marker`` when unpickled without weights_only."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _foreign_files(tmp_path, field_ckpt):
    """Files a user might pass instead of a graphops checkpoint: name -> path."""
    files = {}
    blob = Path(field_ckpt).read_bytes()
    files["truncated.pt"] = blob[: len(blob) // 3]
    files["empty.pt"] = b""
    files["garbage.pt"] = bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8))
    buffer = io.BytesIO()
    torch.save(build_model({"name": "gno", "hidden": 4}).state_dict(), buffer)
    files["state_dict.pt"] = buffer.getvalue()
    payload = load_checkpoint(field_ckpt)
    payload["format_version"] = FORMAT_VERSION + 1
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    files["future.pt"] = buffer.getvalue()
    buffer = io.BytesIO()
    torch.save({"format": "graphops-checkpoint", "model_state": _Evil(tmp_path / "PWNED")}, buffer)
    files["code.pt"] = buffer.getvalue()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", b"not a pickle")
    files["zip.pt"] = buffer.getvalue()
    buffer = io.BytesIO()
    np.savez(buffer, w=np.zeros(3))
    files["numpy.pt"] = buffer.getvalue()
    out = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = tmp_path / name
    (tmp_path / "folder.pt").mkdir()
    out["folder.pt"] = tmp_path / "folder.pt"
    out["missing.pt"] = tmp_path / "missing.pt"
    return out


def test_foreign_and_broken_files_are_refused_by_every_command(tmp_path, field_ckpt, graphs, capsys):
    files = _foreign_files(tmp_path, field_ckpt)
    np.save(tmp_path / "initial.npy", np.random.default_rng(0).random((30, 2)))
    for name, path in files.items():
        _refused(lambda: load_model(path), path)
        _refused(lambda: predict(path, T1, boundary="x"), path)
        _refused(lambda: evaluate(path, graphs, device="cpu"), path)
        _refused(lambda: rollout(path, tmp_path / "initial.npy", 1, tmp_path / "o", progress=False), path)
        assert main(["predict", str(path), str(T1), "--boundary", "x", "-o", str(tmp_path / "p.vtu")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("graphops: error: ") and name in err and "\n" not in err, err
    assert not (tmp_path / "PWNED").exists(), "loading a checkpoint ran code stored in it"
    assert not (tmp_path / "p.vtu").exists() and not (tmp_path / "o").exists()


@st.composite
def corruptions(draw, blob: bytes) -> bytes:
    data = bytearray(blob)
    op = draw(st.sampled_from(["truncate", "flip", "flip", "zero block", "drop member", "shuffle member"]))
    if op == "truncate":
        return op, bytes(data[: draw(st.integers(0, len(data) - 1))])
    if op == "flip":
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
        return op, bytes(data)
    if op == "zero block":
        at = draw(st.integers(0, len(data) - 1))
        data[at : at + draw(st.integers(1, 512))] = b"\0" * len(data[at : at + 512])
        return op, bytes(data[: len(blob)])
    members = zipfile.ZipFile(io.BytesIO(blob)).infolist()
    victim = members[draw(st.integers(0, len(members) - 1))].filename
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(out, "w") as dst:
        for m in src.infolist():
            content = src.read(m.filename)
            if m.filename == victim:
                if op == "drop member":
                    continue
                content = bytes(draw(st.permutations(list(content[:64])))) + content[64:]
            dst.writestr(m, content)
    return op, out.getvalue()


@settings(FUZZ, max_examples=examples(60))
@given(data=st.data())
def test_corrupted_checkpoints_load_or_fail_cleanly(field_ckpt, tmp_path_factory, data):
    blob = Path(field_ckpt).read_bytes()
    op, bad = data.draw(corruptions(blob), label="checkpoint bytes")
    path = tmp_path_factory.getbasetemp() / "corrupted.pt"
    path.write_bytes(bad)
    STATS["checkpoint fuzz inputs"] += 1
    try:
        model, _, _ = load_model(path)
    except CheckpointError as exc:
        assert_clean_error(exc, "corrupted.pt")
        STATS["checkpoint fuzz: clean CheckpointError"] += 1
        return
    reference = build_model({"name": "gno", "hidden": 4})
    reference.load_state_dict(load_checkpoint(field_ckpt)["model_state"])
    same = all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reference.state_dict().values()))
    STATS[f"checkpoint fuzz: loaded ({op}), {'same weights' if same else 'weights changed'}"] += 1
    # a byte-level fault is caught by the CRC check; only a re-written archive (valid CRCs) can change weights
    assert same or op == "shuffle member", f"{op}: a corrupted checkpoint loaded with different weights"
