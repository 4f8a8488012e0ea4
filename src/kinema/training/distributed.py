"""PyTorch distributed for training: process group from ``torchrun``'s environment, DDP or FSDP2.

One process needs none of it; ``torchrun --nproc-per-node N -m kinema.cli.main train …`` runs N
data-parallel ranks (gloo on CPU, NCCL on GPU).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import fully_shard
from torch.nn.parallel import DistributedDataParallel

FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


@dataclass(frozen=True)
class World:
    """This process's place: ``rank`` of ``size`` ranks, and its device."""

    rank: int = 0
    size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, items: list) -> list:
        """This rank's contiguous share of a global batch (sizes must divide evenly)."""
        per = len(items) // self.size
        return items[self.rank * per:(self.rank + 1) * per]

    def mean(self, value: float) -> float:
        """Average of a per-rank scalar over all ranks."""
        if self.size == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t.item()) / self.size

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()


def init_world() -> World:
    """Join the process group ``torchrun`` describes (WORLD_SIZE > 1), else a single process."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
    if size == 1:
        return World(device=device)
    if not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if cuda else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), device)


def wrap(module: nn.Module, world: World, fsdp: bool) -> nn.Module:
    """DDP, or FSDP2 with each transformer block sharded separately, when running on several ranks."""
    if world.size == 1:
        return module
    if fsdp:
        for block in module.transformer.blocks:
            fully_shard(block)
        return fully_shard(module)
    return DistributedDataParallel(module, device_ids=[world.device.index] if world.device.type == "cuda" else None)


def full_model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Unsharded CPU state dict (collective under FSDP: every rank must call it)."""
    return get_model_state_dict(model, options=FULL)


def full_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    return get_optimizer_state_dict(model, optimizer, options=FULL)


def load_full_state(model: nn.Module, optimizer: torch.optim.Optimizer, model_state: dict, optim_state: dict) -> None:
    """Inverse of the two functions above; every rank passes the same full state."""
    options = StateDictOptions(full_state_dict=True, strict=False)
    set_model_state_dict(model, model_state, options=options)
    set_optimizer_state_dict(model, optimizer, optim_state, options=StateDictOptions(full_state_dict=True))


def full_tensor(t: torch.Tensor) -> torch.Tensor:
    """A DTensor's gathered value (collective), or the tensor itself."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def shutdown(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()
