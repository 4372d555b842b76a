"""Losses between SR and original pixels (no teacher needed)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from srdistill.losses.base import Loss, LossInputs, WeightedConfig


class PixelL1Config(WeightedConfig):
    """Mean absolute pixel difference between SR and original (ESRGAN's PSNR-stage loss)."""

    type: Literal["pixel_l1"]


class PixelL1(Loss):
    needs_teacher = False

    def forward(self, inputs: LossInputs) -> torch.Tensor:
        return F.l1_loss(inputs.sr, inputs.hr)


def build_pixel_l1(cfg: PixelL1Config) -> Loss:
    return PixelL1()
