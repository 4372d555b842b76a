"""A dense loss: the teacher's per-pixel class distributions on SR should match those on the original."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from srdistill.losses.base import Loss, LossInputs, WeightedConfig


class MapKLConfig(WeightedConfig):
    """Per-pixel KL(teacher(original) ‖ teacher(SR)) of softmax maps, × T², averaged over pixels."""

    type: Literal["map_kl"]
    temperature: float = Field(1.0, gt=0, description="Softmax temperature T.")


class MapKL(Loss):
    def __init__(self, temperature: float) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, inputs: LossInputs) -> torch.Tensor:
        assert inputs.hr_logits is not None and inputs.sr_logits is not None
        t = self.temperature
        hr = F.log_softmax(inputs.hr_logits / t, dim=1)
        sr = F.log_softmax(inputs.sr_logits / t, dim=1)
        per_pixel = F.kl_div(sr, hr, log_target=True, reduction="none").sum(dim=1)
        return per_pixel.mean() * t * t


def build_map_kl(cfg: MapKLConfig) -> Loss:
    return MapKL(cfg.temperature)
