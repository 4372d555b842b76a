"""An exponential moving average of the trained weights (timm's ModelEmaV3), as BasicSR and
Real-ESRGAN keep one: validation, ``best`` and ``last`` use the averaged weights."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from srdistill.recipe.train import EmaConfig


class Ema:
    """The average of ``weights`` over the training steps; its state goes into every snapshot."""

    def __init__(self, weights: nn.Module, cfg: EmaConfig) -> None:
        from timm.utils import ModelEmaV3

        self.average = ModelEmaV3(weights, decay=cfg.decay, use_warmup=cfg.warmup)

    def update(self, weights: nn.Module, step: int) -> None:
        self.average.update(weights, step=step)

    @contextmanager
    def applied(self, weights: nn.Module) -> Iterator[None]:
        """``weights`` hold the average inside the block and their own values again after it."""
        own = {k: v.detach().clone() for k, v in weights.state_dict().items()}
        weights.load_state_dict(self.average.module.state_dict())
        try:
            yield
        finally:
            weights.load_state_dict(own)

    def state_dict(self) -> dict[str, Any]:
        return {k: v.detach().cpu() for k, v in self.average.module.state_dict().items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.average.module.load_state_dict(state)
