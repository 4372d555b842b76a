"""Several degradations applied in order, e.g. blur, downscale, noise, JPEG."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from srdistill.registry import ComponentConfig


class ChainConfig(ComponentConfig):
    """Degradations applied in order (blur, bicubic, noise, jpeg, ...); `steps` lists them."""

    type: Literal["chain"]
    # the recipe schema narrows this to the union of the other registered degradations
    steps: list[Any] = Field(min_length=1, description="The degradations, in the order they are applied.")

    @classmethod
    def tiny(cls, folder: Path) -> ChainConfig:
        from srdistill.degradations.blur import GaussianBlurConfig
        from srdistill.degradations.resize import BicubicConfig

        return cls(type="chain", steps=[GaussianBlurConfig(type="gaussian_blur"), BicubicConfig(type="bicubic")])


class Chain(nn.Module):
    def __init__(self, steps: list[nn.Module]) -> None:
        super().__init__()
        self.steps = nn.ModuleList(steps)

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        for step in self.steps:
            size = step.output_size(size) if hasattr(step, "output_size") else size
        return size

    def training_target(self, images: torch.Tensor) -> torch.Tensor:
        from srdistill.degradations import training_target

        for step in self.steps:
            images = training_target(step, images)
        return images

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        for step in self.steps:
            images = step(images)
        return images


def build_chain(cfg: ChainConfig, build_step: Callable[[ComponentConfig], nn.Module]) -> Chain:
    """``build_step`` builds one step (the degradation registry's ``build``, bound when registered)."""
    return Chain([build_step(step) for step in cfg.steps])
