"""What a metric sees, and the accumulator every metric shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from srdistill.errors import UserError


@dataclass
class EvalBatch:
    """One evaluated batch of one method.

    ``sr`` is the method's image at the original's size, clamped to ``[0, 1]`` (for the row
    "original" it is ``hr`` itself); ``logits`` are the teacher's on ``sr`` and ``ref_logits``
    the teacher's on ``hr``.
    """

    hr: torch.Tensor
    sr: torch.Tensor
    labels: torch.Tensor
    logits: torch.Tensor
    ref_logits: torch.Tensor
    #: the SR factor: the original's side over the degraded image's (1 where the degradation keeps the size)
    scale: float = 1.0


class Metric:
    """Mean over all images of :meth:`per_image`.

    Sums stay on the device in float64 until :meth:`compute`, so updating never waits for
    the device.
    """

    #: True if larger values are better (used to pick the best checkpoint and in tables)
    higher_is_better: bool = True
    #: True if the metric compares a classifier's logits with labels (not defined for dense teachers)
    needs_labels: bool = False
    #: True if the metric compares a method's output with the original's (trivial on the originals)
    against_original: bool = False
    #: the smallest image side it is defined on (engine.validity checks the data set against it)
    min_side: int = 1

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None
        self.count: int | torch.Tensor = 0

    def missing(self) -> list[UserError]:
        """What the metric needs and cannot find before its first image (a weights file), for --dry-run."""
        return []

    def per_image(self, batch: EvalBatch) -> torch.Tensor:
        raise NotImplementedError

    def update(self, batch: EvalBatch) -> None:
        count: int | torch.Tensor
        if self.needs_labels:  # images without a label (NO_LABEL, -1) are left out, on the device
            known = batch.labels >= 0
            values = self.per_image(replace(batch, labels=batch.labels.clamp(min=0))).detach().to(torch.float64)
            values, count = values * known, known.sum()
        else:
            values = self.per_image(batch).detach().to(torch.float64)
            count = values.numel()
        total = values.sum()
        self.total = total if self.total is None else self.total + total
        self.count = self.count + count

    def merge(self, sum_all: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Replace the sums by their totals over all processes (``sum_all`` all-reduces a tensor)."""
        local = torch.stack(
            [
                self.total.cpu() if self.total is not None else torch.zeros((), dtype=torch.float64),
                torch.tensor(float(self.count), dtype=torch.float64),
            ]
        )
        total, count = sum_all(local).cpu().tolist()
        self.total, self.count = torch.tensor(total, dtype=torch.float64), int(count)

    def compute(self) -> float:
        count = float(self.count)
        if self.total is None or count == 0:
            return float("nan")
        return float(self.total.item() / count)
