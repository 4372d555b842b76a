"""Image-tensor helpers shared by degradations, students and teachers.

Images are float tensors ``(B, C, H, W)`` in ``[0, 1]``. Resizing goes through kornia's
``resize`` (differentiable, so gradients reach the student through the teacher's resize).
"""

from __future__ import annotations

import math
from typing import Literal

import torch

Interpolation = Literal["bilinear", "bicubic", "area", "nearest"]


def scaled_size(size: tuple[int, int], factor: float) -> tuple[int, int]:
    """``size * factor`` rounded half up on each side, at least 1 pixel.

    256 × 0.32 = 81.92 → 82 and 28 × 0.32 = 8.96 → 9. (kornia's ``rescale`` and
    ``F.interpolate(scale_factor=...)`` truncate instead, giving 81 and 8.)
    """
    return tuple(max(1, math.floor(s * factor + 0.5)) for s in size)  # type: ignore[return-value]


def resize(
    images: torch.Tensor,
    size: tuple[int, int],
    mode: Interpolation = "bicubic",
    antialias: bool = True,
) -> torch.Tensor:
    """Resize ``images`` to exactly ``size`` with kornia; a no-op when already that size.

    With ``antialias`` kornia blurs with a Gaussian of sigma ``(factor - 1) / 2`` before
    downscaling; it has no effect when upscaling.
    """
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    from kornia.geometry.transform import resize as kornia_resize

    align = False if mode in ("bilinear", "bicubic") else None
    return kornia_resize(images, size, interpolation=mode, align_corners=align, antialias=antialias)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 images to float in ``[0, 1]`` (float input is returned as is)."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return images.float()


def center_crop(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The central ``size`` window of ``images`` (exact slicing, differentiable)."""
    h, w = images.shape[-2:]
    top, left = (h - size[0]) // 2, (w - size[1]) // 2
    if top < 0 or left < 0:
        raise ValueError(f"cannot crop {size} out of {(h, w)}")
    return images[..., top : top + size[0], left : left + size[1]]
