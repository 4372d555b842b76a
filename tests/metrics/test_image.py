"""Image-quality metrics of SR against the original."""

from __future__ import annotations

import math

import pytest
import torch

from srdistill.metrics.base import EvalBatch
from srdistill.metrics.image import PSNR, SSIM


def batch(hr: torch.Tensor, sr: torch.Tensor) -> EvalBatch:
    n = len(hr)
    zeros = torch.zeros(n, 3)
    return EvalBatch(hr, sr, torch.zeros(n, dtype=torch.long), zeros, zeros)


def compute(metric, *batches: EvalBatch) -> float:
    for b in batches:
        metric.update(b)
    return metric.compute()


def test_psnr_of_a_constant_offset_is_20_db() -> None:
    hr = torch.full((2, 3, 16, 16), 0.25, dtype=torch.float64)
    assert compute(PSNR(), batch(hr, hr + 0.1)) == pytest.approx(20.0, abs=1e-9)
    hr32 = torch.full((2, 1, 16, 16), 0.5)
    assert compute(PSNR(), batch(hr32, hr32 - 0.1)) == pytest.approx(20.0, abs=1e-4)


def test_psnr_is_per_image_then_averaged() -> None:
    hr = torch.full((2, 1, 16, 16), 0.5, dtype=torch.float64)
    sr = hr.clone()
    sr[0] += 0.1  # 20 dB
    sr[1] += 0.01  # 40 dB
    assert compute(PSNR(), batch(hr, sr)) == pytest.approx(30.0)


def test_identical_images() -> None:
    torch.manual_seed(0)
    hr = torch.rand(3, 3, 32, 32)
    assert compute(PSNR(), batch(hr, hr.clone())) == math.inf
    assert compute(SSIM(), batch(hr, hr.clone())) == pytest.approx(1.0)


def test_ssim_drops_with_noise() -> None:
    torch.manual_seed(0)
    hr = torch.rand(2, 1, 32, 32)
    slightly = compute(SSIM(), batch(hr, (hr + 0.02 * torch.randn_like(hr)).clamp(0, 1)))
    very = compute(SSIM(), batch(hr, torch.rand_like(hr)))
    assert 1.0 > slightly > very


def test_image_metrics_average_over_images_across_updates() -> None:
    torch.manual_seed(0)
    hr = torch.rand(5, 1, 24, 24)
    sr = (hr + 0.05 * torch.randn_like(hr)).clamp(0, 1)
    for metric in (PSNR, SSIM):
        whole = compute(metric(), batch(hr, sr))
        split = compute(metric(), batch(hr[:1], sr[:1]), batch(hr[1:], sr[1:]))
        singles = [compute(metric(), batch(hr[i : i + 1], sr[i : i + 1])) for i in range(5)]
        assert split == pytest.approx(whole, rel=1e-6)
        assert whole == pytest.approx(sum(singles) / 5, rel=1e-6)
    assert PSNR.higher_is_better and SSIM.higher_is_better
