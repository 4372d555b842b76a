"""Any torchvision classifier as the teacher."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from srdistill.checkpoints import load_weights
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.registry import did_you_mean
from srdistill.teachers.base import Teacher, TeacherConfig


class TorchvisionTeacherConfig(TeacherConfig):
    """A torchvision classifier; preprocessing from its torchvision weights' transforms."""

    type: Literal["torchvision"]
    model: str = Field("resnet50", description="torchvision.models name, e.g. resnet50, efficientnet_b0.")
    weights: Path | None = Field(None, description="Local weights file (.pth or .safetensors); none: random.")
    preset: str = Field(
        "DEFAULT", description="torchvision weights entry whose transforms give the preprocessing, e.g. IMAGENET1K_V2."
    )
    num_classes: int | None = Field(None, ge=1, description="Classifier outputs; default: the data set's classes.")

    @classmethod
    def tiny(cls, folder: Path) -> TorchvisionTeacherConfig:
        return cls(type="torchvision", model="mobilenet_v3_small")


def build_torchvision_teacher(cfg: TorchvisionTeacherConfig, info: DataInfo) -> Teacher:
    import torchvision

    known = torchvision.models.list_models(module=torchvision.models)
    if cfg.model not in known:
        raise UserError(
            f"torchvision has no classifier '{cfg.model}'.{did_you_mean(cfg.model, known)}",
            "Pick a name from torchvision.models.list_models(module=torchvision.models).",
        )
    model = torchvision.models.get_model(cfg.model, weights=None, num_classes=cfg.num_classes or info.num_classes)
    if cfg.weights is not None:
        load_weights(model, cfg.weights, what="teacher.weights")
    presets = torchvision.models.get_model_weights(cfg.model)
    try:
        transform = presets[cfg.preset].transforms()  # reads metadata only: nothing is downloaded
    except KeyError:
        names = ["DEFAULT", *(p.name for p in presets)]
        raise UserError(
            f"torchvision's {cfg.model} has no weights preset '{cfg.preset}'.", f"Use one of: {', '.join(names)}."
        ) from None
    crop = transform.crop_size[0]
    resize = transform.resize_size[0]
    return Teacher(
        model,
        input_size=(crop, crop),
        mean=tuple(transform.mean),
        std=tuple(transform.std),
        interpolation="bicubic" if transform.interpolation.value == "bicubic" else "bilinear",
        crop_pct=crop / resize,
    )
