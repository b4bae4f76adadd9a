"""Training graph neural operators: the one training loop, config schema, losses, metrics, checkpoints, DDP.

The usual entry points::

    from graphops.train import train, evaluate, load_model
    best = train("run.yaml")                       # OUT/best.pt (the task follows from model.name)
    best = train("run.yaml", overrides=["train.lr=1e-3", "model.hidden=128"])
    result = evaluate(best, "runs/data/poisson-dirichlet", families=[0, 1])
    model, normalizer, meta = load_model(best)     # rebuilt from the checkpoint alone
"""
from .checkpoint import load_checkpoint, load_model, save_checkpoint
from .config import apply_overrides, load_run_config, validate_run_config
from .distributed import DistContext, launch, setup_distributed
from .evaluate import evaluate, evaluate_model, format_table
from .losses import get_loss, mse_loss, relative_l2_loss
from .metrics import MetricAccumulator, mae_per_graph, relative_l2_per_graph
from .normalize import FieldNormalizer, fit_normalizer
from .trainer import Trainer, seed_everything, split_run_data, train

__all__ = [
    "Trainer",
    "train",
    "evaluate",
    "evaluate_model",
    "format_table",
    "load_run_config",
    "validate_run_config",
    "apply_overrides",
    "save_checkpoint",
    "load_checkpoint",
    "load_model",
    "FieldNormalizer",
    "fit_normalizer",
    "relative_l2_loss",
    "mse_loss",
    "get_loss",
    "relative_l2_per_graph",
    "mae_per_graph",
    "MetricAccumulator",
    "DistContext",
    "setup_distributed",
    "launch",
    "seed_everything",
    "split_run_data",
]
