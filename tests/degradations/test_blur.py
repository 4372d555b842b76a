"""Gaussian blur: constants kept, detail removed, the kernel size from sigma."""

from __future__ import annotations

import torch

from srdistill.degradations.blur import GaussianBlur


def test_blur_keeps_constants_and_removes_detail() -> None:
    flat = torch.full((1, 1, 16, 16), 0.3)
    assert torch.allclose(GaussianBlur(1.5)(flat), flat, atol=1e-6)
    noise = torch.rand(1, 1, 64, 64)
    assert GaussianBlur(2.0)(noise).std() < 0.5 * noise.std()
    assert GaussianBlur(1.0).kernel_size == 7 and GaussianBlur(1.0, kernel_size=4).kernel_size == 5
