"""JPEG compression: lower quality, larger error; grey images too."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from srdistill.degradations.jpeg import JPEG


def smooth(n: int = 2, c: int = 3, size: int = 32) -> torch.Tensor:
    torch.manual_seed(0)
    return F.interpolate(torch.rand(n, c, 4, 4), size=(size, size), mode="bilinear", align_corners=False)


def test_jpeg_quality_orders_the_error_and_grey_works() -> None:
    images = smooth() + 0.05 * torch.rand(2, 3, 32, 32)
    err_low = (JPEG(10)(images) - images).pow(2).mean()
    err_high = (JPEG(95)(images) - images).pow(2).mean()
    assert err_high < err_low
    grey = smooth(c=1)
    assert JPEG(50)(grey).shape == grey.shape
