"""Seeding and loaders: creating a loader's iterator never shifts the random numbers training draws."""

from __future__ import annotations

import random

import numpy as np
import torch

from srdistill.engine.loaders import make_loader, seed_everything


def draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_seed_everything_seeds_python_numpy_and_torch() -> None:
    seed_everything(5)
    first = draws()
    seed_everything(5)
    assert draws() == first


def test_iterating_a_shuffled_loader_leaves_the_global_generators_alone() -> None:
    data = [(torch.zeros(1, 2, 2, dtype=torch.uint8), i % 3) for i in range(12)]
    loader = make_loader(data, 4, device=torch.device("cpu"), shuffle=True, seed=1, with_index=True)
    seed_everything(0)
    expected = draws()
    seed_everything(0)
    batches = list(loader)
    assert draws() == expected
    images, labels, bad, index = batches[0]
    assert labels.dtype == torch.int64
    assert images.shape == (4, 1, 2, 2) and bad == [] and sorted(index.tolist()) == sorted(set(index.tolist()))
    assert len(batches) == 3
