"""TensorBoard (and W&B) logs of a run: scalars every few steps and each epoch, reconstruction grids each epoch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from srdistill.engine.runs import BOARD_FOLDER

if TYPE_CHECKING:
    from srdistill.recipe.sections import WandbConfig


class Board:
    """A TensorBoard writer in ``run/tensorboard``, or nothing when switched off or not installed.

    Args:
        enabled: True, False, or None for "on if the tensorboard package is installed".
        purge_step: a resumed run's step: events logged after it (by the killed run) are dropped.
        wandb: also log to Weights & Biases with these settings.
    """

    def __init__(
        self, run_path: Path, enabled: bool | None, purge_step: int | None = None, wandb: WandbConfig | None = None
    ) -> None:
        self.writer: Any = None
        self.wandb: Any = None
        if wandb is not None:
            from srdistill.engine.wandb_sink import WandbSink

            self.wandb = WandbSink(wandb, run_path)
        if enabled is False:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            if enabled:
                from srdistill.errors import UserError

                raise UserError(
                    "train.tensorboard is on but tensorboard is not installed.", "pip install tensorboard"
                ) from None
            return
        self.writer = SummaryWriter(str(run_path / BOARD_FOLDER), purge_step=purge_step)

    def scalars(self, values: dict[str, float], step: int, prefix: str = "") -> None:
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"{prefix}{name}", value, step)
        if self.wandb is not None:
            self.wandb.scalars({f"{prefix}{name}": value for name, value in values.items()}, step)

    def image(self, tag: str, grid: torch.Tensor, step: int) -> None:
        if self.writer is not None:
            self.writer.add_image(tag, grid.clamp(0, 1).cpu(), step)
        if self.wandb is not None:
            self.wandb.image(tag, grid, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.wandb is not None:
            self.wandb.close()


def reconstruction_grid(hr: torch.Tensor, lr: torch.Tensor, sr: torch.Tensor) -> torch.Tensor:
    """Rows of original | degraded (nearest-neighbour enlarged) | SR, one row per image."""
    from torchvision.utils import make_grid

    big_lr = torch.nn.functional.interpolate(lr, size=hr.shape[-2:], mode="nearest")
    rows = torch.stack([hr, big_lr, sr.clamp(0, 1)], dim=1).flatten(0, 1)
    return make_grid(rows.float().cpu(), nrow=3, padding=2, pad_value=1.0)
