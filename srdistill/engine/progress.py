"""Where a run stands, and the running loss sums of an epoch: values saved in every snapshot."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch


@dataclass
class Progress:
    """A run's position and record so far (plain numbers: it round-trips through a snapshot)."""

    epoch: int = 1  # the epoch under way
    step: int = 0  # steps of it done
    global_step: int = 0
    best_value: float | None = None
    best_epoch: int = 0
    bad_files: list[str] = field(default_factory=list)  # unreadable images met so far
    train_seconds: float = 0.0  # seconds spent in finished epochs (training and validation), over every resume

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        for name, value in state.items():
            if name in known:  # snapshots of older versions may hold fields since removed
                setattr(self, name, value)

    def next_epoch(self) -> None:
        self.epoch, self.step = self.epoch + 1, 0

    def improves(self, value: float, higher_is_better: bool) -> bool:
        if value != value or value in (float("inf"), float("-inf")):
            return False
        if self.best_value is None:
            return True
        return value > self.best_value if higher_is_better else value < self.best_value


#: device type -> dtype of the running loss sums (MPS has no float64)
SUM_DTYPE = {"mps": torch.float32}


class LossSums:
    """This epoch's sums of every step loss, kept on the device so that adding one never waits for it."""

    def __init__(self, device: torch.device) -> None:
        self.dtype = SUM_DTYPE.get(device.type, torch.float64)
        self.device = device
        self.sums: dict[str, torch.Tensor] = {}

    def add(self, losses: dict[str, torch.Tensor], skipped: torch.Tensor) -> None:
        """Add a step's losses, unless the step was skipped (``skipped`` is a 0/1 device tensor)."""
        for name, value in losses.items():
            kept = torch.where(skipped > 0, 0.0, value.detach().to(self.dtype))
            self.sums[name] = self.sums[name] + kept if name in self.sums else kept

    def state_dict(self) -> dict[str, float]:
        """The sums as numbers (waits for the device)."""
        return {k: float(v) for k, v in self.sums.items()}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.sums = {k: torch.tensor(v, dtype=self.dtype, device=self.device) for k, v in state.items()}
