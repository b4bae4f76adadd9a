"""DDP on CPU with 2 gloo processes: same result as one process with the same global batch."""
import json

import pytest
import torch

from graphops.errors import ConfigError
from torch_geometric.data import Batch

from graphops.train import Trainer, load_checkpoint, load_model
from graphops.train.distributed import DistContext, launch, resolve_device, setup_distributed
from train_helpers import ddp_worker, poisson_dataset, run_config, state_close

N_TRAIN, N_VAL = 8, 4


def test_two_gloo_processes_match_one_process(tmp_path):
    cfg = run_config(tmp_path / "ddp", epochs=2, batch_size=4)
    launch(ddp_worker, 2, args=(cfg, N_TRAIN, N_VAL, str(tmp_path)))
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert state_close(rank0, rank1) == 0.0  # DDP keeps the replicas identical
    saved = load_checkpoint(tmp_path / "ddp" / "last.pt")
    assert saved["epoch"] == 2 and state_close(saved["model_state"], rank0) == 0.0

    data = poisson_dataset(N_TRAIN + N_VAL)
    single_cfg = run_config(tmp_path / "single", epochs=2, batch_size=4)
    Trainer(single_cfg, data[:N_TRAIN], data[N_TRAIN:], progress=False).fit()
    single = load_checkpoint(tmp_path / "single" / "last.pt")["model_state"]
    assert state_close(single, rank0) < 1e-5  # (the attention key bias is left out, see state_close)
    one_model, normalizer, _ = load_model(tmp_path / "single" / "last.pt")
    ddp_model, _, _ = load_model(tmp_path / "ddp" / "last.pt")
    batch = normalizer(Batch.from_data_list(data[N_TRAIN:]))
    with torch.no_grad():
        assert torch.allclose(one_model(batch), ddp_model(batch), rtol=1e-4, atol=1e-5)
    ddp_rows = json.loads((tmp_path / "ddp" / "metrics.json").read_text())["epochs"]
    one_rows = json.loads((tmp_path / "single" / "metrics.json").read_text())["epochs"]
    for a, b in zip(ddp_rows, one_rows):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_rel_l2"] == pytest.approx(b["val_rel_l2"], rel=1e-4)


def test_a_user_error_in_a_worker_comes_back_as_itself(tmp_path):
    cfg = run_config(tmp_path / "odd", epochs=1, batch_size=3)  # 3 graphs cannot split over 2 processes
    with pytest.raises(ConfigError, match="divisible by the 2 processes"):
        launch(ddp_worker, 2, args=(cfg, N_TRAIN, N_VAL, str(tmp_path)))


def test_single_process_context_from_a_plain_environment(monkeypatch):
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    ctx = setup_distributed("auto")
    assert isinstance(ctx, DistContext) and not ctx.is_distributed and ctx.is_main
    assert ctx.device == resolve_device("auto")
    assert torch.equal(ctx.all_reduce_sum(torch.ones(2)), torch.ones(2))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(ConfigError, match="MASTER_ADDR is not set"):
        setup_distributed("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_requested_without_cuda():
    with pytest.raises(ConfigError, match="train.device: cuda requested but CUDA is not available"):
        resolve_device("cuda")
