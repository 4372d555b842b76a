"""Seeding and data loaders."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from srdistill.data.base import Indexed, collate
from srdistill.engine.distributed import SINGLE, Cluster
from srdistill.engine.sampling import EpochBatches


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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
