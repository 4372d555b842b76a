"""Image-quality metrics of SR against the original."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
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


def _as_basicsr_reads(images: torch.Tensor) -> list[np.ndarray]:
    """Images in [0, 1] as basicsr's scripts read them: uint8, HWC, BGR (cv2.imread)."""
    out = (images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return [img[..., ::-1] if img.shape[-1] == 3 else img for img in out]


@pytest.mark.parametrize(("channels", "scale"), [(3, 4.0), (3, 256 / 82), (1, 28 / 9), (3, 1.0)])
def test_psnr_y_and_ssim_y_are_basicsrs_with_the_y_channel_and_the_border_cropped(channels: int, scale: float) -> None:
    from srdistill.compat.basicsr import psnr_ssim
    from srdistill.metrics.image import PSNRY, SSIMY, crop_border

    gen = torch.Generator().manual_seed(0)
    hr = (torch.rand(3, channels, 48, 40, generator=gen) * 255).round() / 255
    sr = ((hr + 0.08 * torch.randn(hr.shape, generator=gen)).clamp(0, 1) * 255).round() / 255
    batch = replace(EvalBatch(hr, sr, torch.zeros(3), torch.zeros(3, 2), torch.zeros(3, 2)), scale=scale)
    lib = psnr_ssim()
    border = crop_border(scale)
    assert border == {4.0: 4, 1.0: 0}.get(scale, 3)
    pairs = list(zip(_as_basicsr_reads(sr), _as_basicsr_reads(hr), strict=True))
    psnr = [lib.calculate_psnr(a, b, border, input_order="HWC", test_y_channel=True) for a, b in pairs]
    ssim = [lib.calculate_ssim(a, b, border, input_order="HWC", test_y_channel=True) for a, b in pairs]
    assert PSNRY().per_image(batch).tolist() == pytest.approx(psnr, abs=1e-4)
    assert SSIMY().per_image(batch).tolist() == pytest.approx(ssim, abs=1e-4)
    plain = PSNR().per_image(batch)
    assert not torch.allclose(PSNRY().per_image(batch).float(), plain.float())  # not the RGB, uncropped PSNR


def test_psnr_y_of_identical_images_is_infinite_as_psnr_is() -> None:
    from srdistill.metrics.image import PSNRY

    hr = torch.rand(2, 3, 32, 32)
    same = replace(EvalBatch(hr, hr.clone(), torch.zeros(2), torch.zeros(2, 2), torch.zeros(2, 2)), scale=4.0)
    assert PSNRY().per_image(same).tolist() == [math.inf, math.inf]
