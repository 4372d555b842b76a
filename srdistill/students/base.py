"""The student wrapper every student shares."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from srdistill.imaging import Interpolation, resize
from srdistill.registry import ComponentConfig


class StudentConfig(ComponentConfig):
    """Base of student configs."""


class LearnedStudentConfig(StudentConfig):
    """Base of students with weights: a checkpoint of one is loaded through ``weights``."""

    weights: Path | None = Field(None, description="Weights file to start from (.safetensors or .pth).")


class SuperResolver(nn.Module):
    """An SR network followed by a resize to the size of the original image.

    ESRGAN's RRDB network upsamples by a fixed ×4, while the paper's degradation shrinks by
    0.32, so the network's output (82 → 328 pixels) is resized to the original's size
    (256) here. With ``net = nn.Identity()`` this is plain interpolation: the baselines.

    Checkpoints hold ``net``'s weights only, in the network's own key layout.

    Args:
        net: maps ``(B, C, h, w)`` to ``(B, C, s·h, s·w)``.
        mode: interpolation of the final resize.
        multiple: ``net`` needs input sides divisible by this (RRDB ×2 and ×1 pixel-unshuffle
            their input by 2 and 4); other sizes are replicate-padded and the output cropped back.
        config: the student's config with every size resolved.
        residual: ``net`` predicts a correction added to a bicubic upscale of its input, so a
            network whose last layer is zero is exactly that upscale (the weights keep ``net``'s
            own key layout either way).
    """

    def __init__(
        self,
        net: nn.Module,
        mode: Interpolation = "bicubic",
        multiple: int = 1,
        config: StudentConfig | None = None,
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.net, self.mode, self.multiple, self.residual = net, mode, multiple, residual
        #: the config with every size resolved (what a checkpoint records to be rebuilt)
        self.config = config

    def forward(self, lr: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return resize(self.upscale(lr), size, self.mode, antialias=True)

    def upscale(self, lr: torch.Tensor) -> torch.Tensor:
        """The network's own output (``s·h × s·w``), before the resize to the original's size."""
        h, w = lr.shape[-2:]
        pad_h, pad_w = -h % self.multiple, -w % self.multiple
        padded = F.pad(lr, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else lr
        out = self.net(padded)
        if self.residual:
            out = out + resize(padded, (out.shape[-2], out.shape[-1]), "bicubic", antialias=False).to(out.dtype)
        if pad_h or pad_w:
            scale = out.shape[-1] // (w + pad_w)
            return out[..., : h * scale, : w * scale]
        return out

    @property
    def trainable(self) -> bool:
        return any(True for _ in self.net.parameters())
