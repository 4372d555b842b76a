"""Downscaling by a factor, the paper's degradation (bicubic × 0.32)."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from srdistill.degradations.matlab import imresize, output_side
from srdistill.imaging import Interpolation, resize, scaled_size
from srdistill.registry import ComponentConfig


class BicubicConfig(ComponentConfig):
    """Bicubic downscaling by `factor` (kornia's kernel, sides rounded half up; or MATLAB's imresize)."""

    type: Literal["bicubic"]
    factor: float = Field(0.32, gt=0, le=1, description="Side scale factor (paper: 0.32, 256 → 82).")
    antialias: bool = Field(True, description="Low-pass the image before downscaling.")
    kernel: Literal["kornia", "matlab"] = Field(
        "kornia",
        description="kornia: Gaussian blur (sigma (1/factor − 1)/2) then bicubic sampling. matlab: MATLAB's "
        "imresize (basicsr's port of its kernel; sides ceil(side·factor)), as SR benchmarks make their LR images.",
    )


class Downscale(nn.Module):
    """Resize ``(B, C, H, W)`` images to ``scaled_size((H, W), factor)``."""

    def __init__(
        self, factor: float, mode: Interpolation = "bicubic", antialias: bool = True, kernel: str = "kornia"
    ) -> None:
        super().__init__()
        self.factor, self.mode, self.antialias, self.kernel = factor, mode, antialias, kernel

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        if self.kernel == "matlab":
            return output_side(size[0], self.factor), output_side(size[1], self.factor)
        return scaled_size(size, self.factor)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.kernel == "matlab":
            return imresize(images, self.factor, self.antialias)
        return resize(images, self.output_size(tuple(images.shape[-2:])), self.mode, self.antialias)  # type: ignore[arg-type]

    def extra_repr(self) -> str:
        return f"factor={self.factor}, mode={self.mode}, antialias={self.antialias}, kernel={self.kernel}"


def build_bicubic(cfg: BicubicConfig) -> Downscale:
    return Downscale(cfg.factor, "bicubic", cfg.antialias, cfg.kernel)
