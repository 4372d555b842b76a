"""Image-quality metrics of SR against the original at the original's size (images in [0, 1]).

``psnr`` and ``ssim`` are taken on every channel of the whole image. ``psnr_y`` and ``ssim_y`` are the SR
literature's (BasicSR, Real-ESRGAN, the papers' tables): on the Y channel of BT.601 YCbCr (a grey image
as it is), with a border of ``scale`` pixels cropped away, by basicsr's own functions.
"""

from __future__ import annotations

import torch

from srdistill.metrics.base import EvalBatch, Metric


class PSNR(Metric):
    """Peak signal-to-noise ratio per image in dB (torchmetrics; data range 1), averaged."""

    against_original = True

    def per_image(self, batch: EvalBatch) -> torch.Tensor:
        from torchmetrics.functional.image import peak_signal_noise_ratio

        return peak_signal_noise_ratio(
            batch.sr.float(), batch.hr.float(), data_range=1.0, reduction="none", dim=(1, 2, 3)
        )


class SSIM(Metric):
    """Structural similarity per image (torchmetrics; Gaussian window 11, sigma 1.5), averaged."""

    against_original = True

    def per_image(self, batch: EvalBatch) -> torch.Tensor:
        from torchmetrics.functional.image import structural_similarity_index_measure

        return structural_similarity_index_measure(batch.sr.float(), batch.hr.float(), data_range=1.0, reduction="none")


def crop_border(scale: float) -> int:
    """The SR literature's border: ``scale`` pixels (rounded) for an upscaling, none where the size is kept."""
    return round(scale) if scale > 1 else 0


class PSNRY(Metric):
    """PSNR on Y (BT.601) with a border of ``scale`` pixels cropped: basicsr's calculate_psnr_pt, per image."""

    against_original = True

    def per_image(self, batch: EvalBatch) -> torch.Tensor:
        from srdistill.compat.basicsr import psnr_ssim

        sr, hr = batch.sr.float(), batch.hr.float()
        value = psnr_ssim().calculate_psnr_pt(sr, hr, crop_border(batch.scale), test_y_channel=sr.shape[1] == 3)
        same = (sr - hr).flatten(1).abs().amax(1) == 0  # basicsr's 1e-8 would say 80 dB: ∞, as psnr says
        return torch.where(same, torch.full_like(value, float("inf")), value)


class SSIMY(Metric):
    """SSIM on Y (BT.601) with a border of ``scale`` pixels cropped: basicsr's calculate_ssim_pt (MATLAB's SSIM)."""

    against_original = True
    min_side = 11 + 2 * 4  # the 11-pixel window inside a ×4 crop

    def per_image(self, batch: EvalBatch) -> torch.Tensor:
        from srdistill.compat.basicsr import psnr_ssim

        sr, hr = batch.sr.float(), batch.hr.float()
        return psnr_ssim().calculate_ssim_pt(sr, hr, crop_border(batch.scale), test_y_channel=sr.shape[1] == 3)
