"""Additive Gaussian noise: sensor noise on the low-resolution image."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from srdistill.registry import ComponentConfig


class NoiseConfig(ComponentConfig):
    """Additive Gaussian noise of standard deviation `std` (images in [0, 1]), clipped to [0, 1]."""

    type: Literal["noise"]
    std: float = Field(0.02, ge=0, description="Standard deviation, in units of the [0, 1] range.")
    clip: bool = Field(True, description="Clip the result to [0, 1].")


class GaussianNoise(nn.Module):
    """Draws from torch's generator, so a seeded (or resumed) run draws the same noise."""

    def __init__(self, std: float, clip: bool = True) -> None:
        super().__init__()
        self.std, self.clip = std, clip

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        noisy = images + self.std * torch.randn_like(images)
        return noisy.clamp(0.0, 1.0) if self.clip else noisy


def build_noise(cfg: NoiseConfig) -> GaussianNoise:
    return GaussianNoise(cfg.std, cfg.clip)
