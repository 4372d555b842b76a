"""A fixed batch of the tiny training split, for the tasks' one-problem tests."""

from __future__ import annotations

import pytest
import torch

from srdistill.engine.tasks import TrainBatch
from srdistill.imaging import to_unit


@pytest.fixture
def fixed_batch():
    """``fixed_batch(parts) -> TrainBatch``: the first 16 training images."""

    def make(parts) -> TrainBatch:  # type: ignore[no-untyped-def]
        images, labels = zip(*(parts.data.train[i] for i in range(16)), strict=True)
        return TrainBatch(to_unit(torch.stack(images)), torch.tensor(labels), torch.arange(16))

    return make
