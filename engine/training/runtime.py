"""Where a run trains: the device, and the process group of a torchrun job.

- devices: ``auto`` = CUDA, then MPS, then CPU; bf16 autocast and channels_last on CUDA only;
- DDP: with ``WORLD_SIZE > 1`` (torchrun) the process group is started (``nccl`` on CUDA,
  ``gloo`` otherwise), modules are wrapped in DistributedDataParallel, and only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from dataclasses import dataclass
from typing import Any

import numpy.typing as npt
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from engine.errors import InputError
from engine.training.config import DeviceChoice


def resolve_device(choice: DeviceChoice | str, local_rank: int = 0) -> torch.device:
    """``auto``: CUDA, then MPS, then CPU. An unavailable explicit choice is an InputError."""
    choice = DeviceChoice(choice)
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if choice is DeviceChoice.CUDA and not cuda:
        raise InputError("--device cuda: no CUDA GPU is available")
    if choice is DeviceChoice.MPS and not mps:
        raise InputError("--device mps: Apple MPS is not available")
    if choice is DeviceChoice.CUDA or (choice is DeviceChoice.AUTO and cuda):
        return torch.device("cuda", local_rank)
    if choice is DeviceChoice.MPS or (choice is DeviceChoice.AUTO and mps):
        return torch.device("mps")
    return torch.device("cpu")


@dataclass(frozen=True, slots=True)
class Runtime:
    """Where and how this process trains. ``rank`` 0 is the only one that writes files."""

    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast on CUDA; nothing elsewhere (bf16 matmuls are ~100x slower on CPU)."""
        if self.cuda:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def place(self, module: nn.Module) -> nn.Module:
        """Move ``module`` to the device (channels_last on CUDA)."""
        if self.cuda:
            return module.to(self.device, memory_format=torch.channels_last)  # type: ignore[call-overload]
        return module.to(self.device)

    def tensor(self, array: npt.NDArray[Any] | torch.Tensor) -> torch.Tensor:
        """A batch on the device (channels_last for 4-D float tensors on CUDA)."""
        tensor = torch.as_tensor(array).to(self.device, non_blocking=True)
        if self.cuda and tensor.ndim == 4:
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        return tensor

    def wrap(self, module: nn.Module) -> nn.Module:
        """DistributedDataParallel around ``module`` in a multi-process job, else ``module``.

        Buffers (BatchNorm statistics) are not broadcast on every forward: a GAN calls its
        networks several times per step and an in-place broadcast would break the autograd graph.
        Rank 0's statistics are the ones saved.
        """
        if not self.distributed:
            return module
        device_ids = [self.device.index] if self.cuda else None
        options: dict[str, Any] = {"broadcast_buffers": False}
        if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters:
            options = {"forward_sync_buffers": False}  # newer torch; still syncs once at init
        return DistributedDataParallel(module, device_ids=device_ids, **options)


def start_runtime(choice: DeviceChoice | str) -> Runtime:
    """The runtime of this process; starts the process group under torchrun (``WORLD_SIZE > 1``)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Runtime(device=resolve_device(choice))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(choice, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return Runtime(device=device, rank=rank, world_size=world_size, local_rank=local_rank)


def stop_runtime(runtime: Runtime, *, finished: bool = False) -> None:
    """Leave the process group. ``finished``: this rank's run ended normally, so it first waits
    for the others (rank 0 may still be writing bundles): a rank that tore gloo down while a
    peer still wrote was seen to abort in gloo's destructor. After an error there is no
    barrier: the peers may never arrive (torchrun stops them when one rank fails)."""
    if runtime.distributed and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, DistributedDataParallel) else module


def seed_everything(seed: int) -> None:
    """Seed the torch generators (CPU and every CUDA device)."""
    torch.manual_seed(seed)
