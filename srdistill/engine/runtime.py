"""Device choice, seeding and data loaders."""

from __future__ import annotations

import random
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from srdistill.data.base import Indexed, collate
from srdistill.engine.distributed import SINGLE, Cluster
from srdistill.engine.sampling import EpochBatches
from srdistill.errors import UserError
from srdistill.recipe.schema import RuntimeConfig


def select_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU; an explicit device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device '{name}' was asked for but CUDA is not available here.", "Use --set device=auto.")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserError(f"device '{name}' does not exist ({torch.cuda.device_count()} GPUs).", "Use cuda:0.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError("device 'mps' was asked for but is not available here.", "Use --set device=auto.")
    return device


def configure(runtime: RuntimeConfig, device: torch.device) -> None:
    """Process-wide switches for the device: TF32 and cuDNN autotuning on CUDA."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = runtime.tf32
        torch.backends.cudnn.allow_tf32 = runtime.tf32
        torch.backends.cudnn.benchmark = True  # input sizes are fixed within a run


def autocast(runtime: RuntimeConfig | None, device: torch.device) -> AbstractContextManager[object]:
    """bf16 autocast when the recipe asks for it, otherwise nothing."""
    if runtime is not None and runtime.amp == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def synchronize(device: torch.device) -> None:
    """Wait for queued work on ``device`` (for timing)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    device: torch.device,
    shuffle: bool = False,
    seed: int = 0,
    num_workers: int = 0,
    cluster: Cluster = SINGLE,
    with_index: bool = False,
) -> DataLoader:
    """A loader of ``(uint8 images, labels, unreadable paths)`` batches of this process's shard.

    Its batch sampler is an :class:`~srdistill.engine.sampling.EpochBatches`: call
    ``loader.batch_sampler.set_position(epoch, skip)`` before iterating a training epoch.
    ``with_index`` adds the int64 data set indices of the kept images as a fourth element.
    """
    batches = EpochBatches(len(dataset), batch_size, shuffle=shuffle, seed=seed, rank=cluster.rank, world=cluster.world)  # type: ignore[arg-type]
    return DataLoader(
        Indexed(dataset) if with_index else dataset,
        batch_sampler=batches,
        collate_fn=collate,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=num_workers > 0,
        # workers draw their seeds from this generator, not from the global one, so creating an
        # iterator does not shift the random numbers training uses (exact resume)
        generator=torch.Generator().manual_seed(seed),
    )
