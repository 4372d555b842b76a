"""Per-class numbers from per-image predictions: accuracy, F1, changes between methods."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ClassStats:
    """Per-class values of one method (index = class)."""

    accuracy: torch.Tensor  # recall: share of the class's images classified as the class
    precision: torch.Tensor
    f1: torch.Tensor
    support: torch.Tensor


def class_stats(labels: torch.Tensor, preds: torch.Tensor, num_classes: int) -> ClassStats:
    """Accuracy (recall), precision and F1 of every class; classes with no image get NaN accuracy."""
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.float64)
    confusion.index_put_((labels.long(), preds.long()), torch.ones(len(labels), dtype=torch.float64), accumulate=True)
    hits = confusion.diagonal()
    support = confusion.sum(dim=1)
    predicted = confusion.sum(dim=0)
    accuracy = hits / support
    precision = torch.where(predicted > 0, hits / predicted.clamp(min=1), torch.zeros_like(hits))
    f1 = torch.where(precision + accuracy.nan_to_num() > 0,
                     2 * precision * accuracy.nan_to_num() / (precision + accuracy.nan_to_num()).clamp(min=1e-12),
                     torch.zeros_like(hits))  # fmt: skip
    return ClassStats(accuracy, precision, f1, support)


def ranked(values: torch.Tensor, k: int, largest: bool) -> list[int]:
    """Indices of the ``k`` largest (or smallest) finite values, best first."""
    finite = torch.nonzero(torch.isfinite(values)).flatten()
    order = finite[torch.argsort(values[finite], descending=largest)]
    return order[:k].tolist()


def gains_and_losses(change: torch.Tensor, k: int) -> tuple[list[int], list[int]]:
    """The ``k`` classes that lost most (most negative first) and the ``k`` that gained most (largest
    first); a class whose change is zero or missing is in neither list."""
    lost = [c for c in ranked(change, k, largest=False) if change[c] < 0]
    gained = [c for c in ranked(change, k, largest=True) if change[c] > 0]
    return lost, gained
