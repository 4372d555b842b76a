"""The frozen teacher's logits on the training originals, computed once and reused.

In a student fit the originals never change (no augmentation) and the teacher is frozen, so
its pass on them gives the same logits every epoch. The cache fills during the first epoch and
then replaces that pass. What is known is tracked on the host, by data set index, so a lookup
never waits for the device.
"""

from __future__ import annotations

import numpy as np
import torch


class LogitCache:
    """Logits ``(N, classes)`` on ``device`` for the ``N`` images of a data set, filled on first sight."""

    def __init__(self, size: int, device: torch.device) -> None:
        self.size, self.device = size, device
        self.known = np.zeros(size, dtype=bool)
        self.values: torch.Tensor | None = None

    def get(self, index: torch.Tensor) -> torch.Tensor | None:
        """The logits of the images ``index`` (CPU int64), or None unless all of them are known."""
        if self.values is None or not self.known[index.numpy()].all():
            return None
        return self.values.index_select(0, index.to(self.device, non_blocking=True))

    def put(self, index: torch.Tensor, logits: torch.Tensor) -> None:
        if self.values is None:
            self.values = torch.zeros(self.size, *logits.shape[1:], dtype=logits.dtype, device=self.device)
        self.values.index_copy_(0, index.to(self.device, non_blocking=True), logits.detach().to(self.values.dtype))
        self.known[index.numpy()] = True
