"""Data-parallel training across processes (``torchrun`` or :func:`launch`).

Each process reads ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT`` from its environment (``torchrun`` sets them), joins a process
group (``gloo`` on CPU, ``nccl`` on CUDA) and trains on its share of every
global batch. Only rank 0 writes files and shows progress.
"""
from __future__ import annotations

import dataclasses
import os
import socket
from typing import Any, Callable, Sequence

import torch
import torch.distributed as dist

from ..errors import ConfigError, GraphopsError


@dataclasses.dataclass
class DistContext:
    """Where this process stands in a (possibly single-process) run.

    Attributes
    ----------
    rank, local_rank, world_size : int
    device : torch.device
    initialized : bool
        Whether this module created the process group (and should destroy it).
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))
    initialized: bool = False

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and logs."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for all processes (no-op when single-process)."""
        if self.is_distributed and dist.is_initialized():
            if self.device.type == "cuda":
                dist.barrier(device_ids=[self.device.index or 0])
            else:
                dist.barrier()

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over processes (returns a new CPU tensor; identity when single-process)."""
        if not self.is_distributed:
            return tensor.clone()
        work = tensor.to(self.device)
        dist.all_reduce(work, op=dist.ReduceOp.SUM)
        return work.cpu()

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every process."""
        if not self.is_distributed:
            return obj
        holder = [obj]
        dist.broadcast_object_list(holder, src=0)
        return holder[0]


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA if available else CPU; ``cuda`` -> this process's GPU.

    Raises
    ------
    ConfigError
        When CUDA is asked for but not available.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"train.device: {name} requested but CUDA is not available (use cpu or auto)")
        if name == "cuda":
            return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
        index = int(name.split(":", 1)[1])
        if index >= torch.cuda.device_count():
            raise ConfigError(f"train.device: {name} but only {torch.cuda.device_count()} GPU(s) are visible")
        return torch.device(name)
    return torch.device("cpu")


def env_world_size() -> int:
    """``WORLD_SIZE`` from the environment (1 when unset)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise ConfigError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not an integer") from None


def setup_distributed(device: str = "auto") -> DistContext:
    """Join the process group described by torchrun's environment variables.

    Parameters
    ----------
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; in a multi-process run on CUDA
        each process takes the GPU ``LOCAL_RANK``.

    Returns
    -------
    DistContext
        Single-process when ``WORLD_SIZE`` is unset or 1.
    """
    world = env_world_size()
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    if world <= 1:
        return DistContext(device=resolve_device(device, 0))
    for key in ("MASTER_ADDR", "MASTER_PORT"):
        if key not in os.environ:
            raise ConfigError(f"multi-process run (WORLD_SIZE={world}) but {key} is not set; start it with torchrun")
    dev = resolve_device(device, local_rank)
    if dev.type == "cuda" and device in ("auto", "cuda"):
        dev = torch.device("cuda", local_rank % torch.cuda.device_count())
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    created = False
    if not dist.is_initialized():
        kwargs = {"device_id": dev} if dev.type == "cuda" else {}
        dist.init_process_group(backend=backend, rank=rank, world_size=world, **kwargs)
        created = True
    return DistContext(rank=rank, local_rank=local_rank, world_size=world, device=dev, initialized=created)


def cleanup_distributed(ctx: DistContext) -> None:
    """Destroy the process group if :func:`setup_distributed` created it."""
    if ctx.initialized and dist.is_initialized():
        dist.destroy_process_group()
        ctx.initialized = False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(local_rank: int, nproc: int, port: int, fn: Callable, args: Sequence, errors) -> None:
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "WORLD_SIZE": str(nproc),
            "RANK": str(local_rank),
            "LOCAL_RANK": str(local_rank),
            "LOCAL_WORLD_SIZE": str(nproc),
        }
    )
    try:
        fn(*args)
    except GraphopsError as exc:
        errors.put((type(exc).__name__, exc.problem, exc.path))
        raise


def launch(fn: Callable, nproc: int, args: Sequence = ()) -> None:
    """Run ``fn(*args)`` in ``nproc`` new processes on this machine, as torchrun would.

    Each process gets ``RANK``/``LOCAL_RANK``/``WORLD_SIZE`` and a free
    ``MASTER_PORT`` on 127.0.0.1. ``fn`` must be importable (a module-level function).

    Raises
    ------
    GraphopsError
        The first user error raised in a worker, re-raised here with its class.
    RuntimeError
        Any other failure of a worker.
    """
    import torch.multiprocessing as mp

    from .. import errors as error_module

    if nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {nproc}")
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    port = free_port()
    try:
        mp.spawn(_worker, args=(nproc, port, fn, tuple(args), queue), nprocs=nproc, join=True)
    except mp.ProcessRaisedException:
        if not queue.empty():
            name, problem, path = queue.get()
            raise getattr(error_module, name, GraphopsError)(problem, path) from None
        raise
