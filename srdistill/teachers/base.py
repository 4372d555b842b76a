"""The teacher wrapper: a classifier that owns its preprocessing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from srdistill.imaging import Interpolation, center_crop, resize
from srdistill.registry import ComponentConfig


class TeacherConfig(ComponentConfig):
    """Base of teacher configs: every teacher may start from a weights file (none: random weights)."""

    weights: Path | None = Field(None, description="Weights file; none: randomly initialised.")

    def label(self) -> str:
        """A short name for tables and plans (a subclass names its model)."""
        return self.type

    def random_init(self) -> bool:
        """Whether the teacher starts from random weights (no file, nothing pretrained)."""
        return self.weights is None

    def with_weights(self, path: Path) -> TeacherConfig:
        """This classifier loading every weight from ``path`` (a file a run wrote for it)."""
        return self.model_copy(update={"weights": path})


class Teacher(nn.Module):
    """A recognition model that takes images in ``[0, 1]`` at any size.

    The preprocessing is part of the module and differentiable: resize (to
    ``input_size / crop_pct``, then a centre crop of ``input_size``, as timm's eval transform
    does) and normalisation. The same steps apply to originals and SR images, so gradients of a
    loss on the teacher's output reach the student through them.

    Mean and std are non-persistent buffers: checkpoints hold ``model``'s weights only.
    Grey images are repeated to three channels for a model that takes RGB.

    ``kind`` says what the model outputs: ``"classifier"`` logits ``(B, classes)``, which the
    label metrics (top1, top5, ce) need, or ``"dense"`` maps ``(B, channels, h, w)`` such as a
    segmentation model's, compared between original and SR only (logit_mse, agreement).
    """

    def __init__(
        self,
        model: nn.Module,
        input_size: tuple[int, int],
        mean: Sequence[float],
        std: Sequence[float],
        interpolation: Interpolation = "bilinear",
        crop_pct: float = 1.0,
        kind: Literal["classifier", "dense"] = "classifier",
    ) -> None:
        super().__init__()
        self.model, self.kind = model, kind
        self.input_size, self.interpolation, self.crop_pct = input_size, interpolation, crop_pct
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.classes: torch.Tensor | None
        self.register_buffer("classes", None, persistent=False)  # see select_classes

    @property
    def resize_size(self) -> tuple[int, int]:
        """The size images are resized to before the centre crop."""
        if self.crop_pct >= 1.0:
            return self.input_size
        return tuple(math.floor(s / self.crop_pct) for s in self.input_size)  # type: ignore[return-value]

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[1] == 1 and self.mean.shape[1] == 3:
            images = images.expand(-1, 3, -1, -1)
        x = resize(images, self.resize_size, self.interpolation, antialias=True)
        x = center_crop(x, self.input_size)
        return (x - self.mean) / self.std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = self.model(self.preprocess(images))
        return logits if self.classes is None else logits[:, self.classes]

    def select_classes(self, index: Sequence[int]) -> Teacher:
        """Keep only the outputs at ``index``, in that order (a judge mapped onto the data set's classes)."""
        self.register_buffer("classes", torch.tensor(list(index), dtype=torch.long), persistent=False)
        return self

    @property
    def outputs_classes(self) -> bool:
        """Whether the outputs are class logits, comparable with labels (a dense teacher's maps are not)."""
        return self.kind == "classifier"

    def freeze(self) -> Teacher:
        """Evaluation mode and no parameter gradients (gradients still flow to the input)."""
        self.eval()
        self.requires_grad_(False)
        return self

    def preprocessing(self) -> dict[str, object]:
        """The preprocessing as plain values, for logs and run folders."""
        return {
            "input_size": list(self.input_size),
            "resize_size": list(self.resize_size),
            "crop_pct": self.crop_pct,
            "interpolation": self.interpolation,
            "mean": [round(v, 6) for v in self.mean.flatten().tolist()],
            "std": [round(v, 6) for v in self.std.flatten().tolist()],
        }
