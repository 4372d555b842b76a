"""Image-quality metrics of SR against the original at the original's size (images in [0, 1])."""

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
