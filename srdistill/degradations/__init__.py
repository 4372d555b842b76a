"""Degradations: turn an original (HR) batch into the low-resolution input of the student."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn


def training_target(degradation: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The originals as training degrades and compares with them: ``degradation.training_target(images)``
    where it has one (Real-ESRNet's sharpened ground truth), else the originals themselves."""
    target = getattr(degradation, "training_target", None)
    return images if target is None else target(images)
