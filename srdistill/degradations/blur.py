"""Gaussian blur (kornia): the optical blur of a camera before it samples the image."""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from srdistill.registry import ComponentConfig


class GaussianBlurConfig(ComponentConfig):
    """Gaussian blur of standard deviation `sigma` pixels (kornia.filters.gaussian_blur2d)."""

    type: Literal["gaussian_blur"]
    sigma: float = Field(1.0, gt=0, description="Standard deviation in pixels.")
    kernel_size: int | None = Field(None, ge=3, description="Odd kernel side; default 2·ceil(3σ)+1.")


class GaussianBlur(nn.Module):
    def __init__(self, sigma: float, kernel_size: int | None = None) -> None:
        super().__init__()
        self.sigma = sigma
        size = kernel_size or 2 * math.ceil(3 * sigma) + 1
        self.kernel_size = size if size % 2 else size + 1

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        from kornia.filters import gaussian_blur2d

        k = self.kernel_size
        return gaussian_blur2d(images, (k, k), (self.sigma, self.sigma), border_type="reflect")


def build_gaussian_blur(cfg: GaussianBlurConfig) -> GaussianBlur:
    return GaussianBlur(cfg.sigma, cfg.kernel_size)
