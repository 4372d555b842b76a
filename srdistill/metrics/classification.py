"""Classification metrics of the teacher on SR images, against labels and against the originals."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from srdistill.metrics.base import EvalBatch, Metric


def _topk_correct(logits: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1).float()


class Top1(Metric):
    """Share of images whose top-1 class is the label."""

    needs_labels = True

    def per_image(self, batch: EvalBatch) -> torch.Tensor:
        return _topk_correct(batch.logits, batch.labels, 1)


class Top5(Metric):
    """Share of images whose label is among the top 5 classes."""

    needs_labels = True

    def per_image(self, batch: EvalBatch) -> torch.Tensor:
        return _topk_correct(batch.logits, batch.labels, 5)


class CrossEntropy(Metric):
    """Cross-entropy of the teacher's prediction against the label."""

    higher_is_better = False
    needs_labels = True

    def per_image(self, batch: EvalBatch) -> torch.Tensor:
        return F.cross_entropy(batch.logits.float(), batch.labels, reduction="none")


class LogitMSE(Metric):
    """Mean squared difference between the teacher's outputs (logits or maps) on SR and on the original."""

    higher_is_better = False
    against_original = True

    def per_image(self, batch: EvalBatch) -> torch.Tensor:
        return (batch.logits.float() - batch.ref_logits.float()).pow(2).flatten(1).mean(dim=1)


class Agreement(Metric):
    """Share of images (of pixels, for maps) whose top class equals the teacher's on the original."""

    against_original = True

    def per_image(self, batch: EvalBatch) -> torch.Tensor:
        same = batch.logits.argmax(dim=1) == batch.ref_logits.argmax(dim=1)
        return same.float().flatten(1).mean(dim=1) if same.ndim > 1 else same.float()


class CEGap(Metric):
    """CE on SR − CE on the original, per image (the paper's validation rule; 0 on the original row)."""

    higher_is_better = False
    needs_labels = True
    against_original = True

    def per_image(self, batch: EvalBatch) -> torch.Tensor:
        ce = F.cross_entropy(batch.logits.float(), batch.labels, reduction="none")
        return ce - F.cross_entropy(batch.ref_logits.float(), batch.labels, reduction="none")
