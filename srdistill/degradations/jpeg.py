"""JPEG compression (kornia's differentiable JPEG codec)."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from srdistill.registry import ComponentConfig


class JPEGConfig(ComponentConfig):
    """JPEG compression at `quality` (kornia.enhance.jpeg_codec_differentiable; grey coded as RGB)."""

    type: Literal["jpeg"]
    quality: float = Field(75, ge=1, le=100, description="JPEG quality, 1 (worst) to 100.")


class JPEG(nn.Module):
    def __init__(self, quality: float) -> None:
        super().__init__()
        self.quality = quality

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        from kornia.enhance import jpeg_codec_differentiable

        grey = images.shape[1] == 1
        rgb = images.expand(-1, 3, -1, -1) if grey else images
        quality = torch.full((images.shape[0],), float(self.quality), device=images.device, dtype=images.dtype)
        coded = jpeg_codec_differentiable(rgb.clamp(0.0, 1.0), quality)
        return coded.mean(dim=1, keepdim=True) if grey else coded


def build_jpeg(cfg: JPEGConfig) -> JPEG:
    return JPEG(cfg.quality)
