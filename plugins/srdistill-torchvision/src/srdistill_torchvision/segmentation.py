"""A torchvision segmentation model as a dense teacher: the student must reproduce its maps."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from srdistill.checkpoints import load_weights
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.registry import did_you_mean
from srdistill.teachers.base import Teacher, TeacherConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class SegmentationTeacherConfig(TeacherConfig):
    """A torchvision segmentation model; the student matches its per-pixel class maps."""

    type: Literal["torchvision_seg"]
    model: str = Field("lraspp_mobilenet_v3_large", description="torchvision.models.segmentation name.")
    weights: Path | None = Field(None, description="Local weights file (.pth or .safetensors); none: random.")
    num_classes: int = Field(21, ge=1, description="Segmentation classes (21 for the VOC-trained weights).")
    input_size: int | None = Field(None, ge=8, description="Square side the model sees; default: the original's.")


class MapsOnly(nn.Module):
    """torchvision segmentation models return ``{"out": maps, ...}``; the teacher needs the tensor."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)["out"]


def build_segmentation_teacher(cfg: SegmentationTeacherConfig, info: DataInfo) -> Teacher:
    import torchvision

    known = torchvision.models.list_models(module=torchvision.models.segmentation)
    if cfg.model not in known:
        raise UserError(
            f"torchvision has no segmentation model '{cfg.model}'.{did_you_mean(cfg.model, known)}",
            f"Use one of: {', '.join(known)}.",
        )
    net = torchvision.models.get_model(cfg.model, weights=None, weights_backbone=None, num_classes=cfg.num_classes)
    if cfg.weights is not None:
        load_weights(net, cfg.weights, what="teacher.weights")
    side = cfg.input_size or info.hr_size[0]
    return Teacher(MapsOnly(net), (side, side), IMAGENET_MEAN, IMAGENET_STD, "bilinear", kind="dense")
