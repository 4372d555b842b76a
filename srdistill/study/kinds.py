"""The shipped route kinds: what each trains, as recipe sections laid over a study's base.

Their settings are the Fashion-MNIST recipes' (recipes/fmnist_*.yaml), which were tuned on that data
set's validation split; a route's ``set:`` changes any of them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

#: a route's kind that trains a recipe file of the user's own
RECIPE_KIND = "recipe"

_CLASSIFIER_FIT = {
    "fit": "teacher",
    "epochs": 2,
    "batch_size": 64,
    "hflip": True,
    "label_smoothing": 0.1,
    "optimizer": {"name": "adamw", "lr": 1.0e-3, "weight_decay": 0.05},
    "scheduler": {"name": "cosine"},
    "monitor": "top1",
}
_SCRATCH_FIT = _CLASSIFIER_FIT | {
    "epochs": 4,
    "optimizer": {"name": "adamw", "lr": 2.0e-3, "weight_decay": 0.05},
    "scheduler": {"name": "cosine", "warmup_epochs": 0.3, "warmup_lr": 1.0e-4},
}
_STUDENT_FIT = {
    "epochs": 2,
    "batch_size": 64,
    "optimizer": {"name": "adam", "lr": 1.0e-3},
    "scheduler": {"name": "cosine"},
}
_JOINT_FIT = {
    "fit": "joint",
    "epochs": 2,
    "batch_size": 64,
    "student": {"optimizer": {"name": "adam", "lr": 1.0e-3}, "scheduler": {"name": "cosine"}},
    "classifier": {
        "optimizer": {"name": "adamw", "lr": 5.0e-4, "weight_decay": 0.05},
        "scheduler": {"name": "cosine"},
    },
    "ce": {"sr": 1.0, "original": 1.0, "mix": 1.0},
    "mix_grid": 4,
    "label_smoothing": 0.1,
}
_PIXEL = {"type": "pixel_l1", "weight": 16.0}


@dataclass(frozen=True)
class Kind:
    """A shipped route: what it trains (``train`` and ``losses`` sections, or nothing) and what it reads."""

    summary: str
    train: dict[str, Any] | None = None
    losses: list[dict[str, Any]] = field(default_factory=list)
    #: the classifier starts from random weights instead of the base's
    from_scratch: bool = False
    #: the compare row a route without training shows (original, bicubic)
    row: str | None = None

    @property
    def trains_student(self) -> bool:
        return bool(self.losses)

    def sections(self) -> dict[str, Any]:
        """The recipe sections this kind lays over the base (copies: the caller may change them)."""
        out: dict[str, Any] = {"train": copy.deepcopy(self.train)}
        if self.losses:
            out["losses"] = copy.deepcopy(self.losses)
        return out


KINDS: dict[str, Kind] = {
    "original": Kind(
        "the classifier on the original images: the ceiling, not a route for low-resolution images", row="original"
    ),
    "bicubic": Kind("bicubic upscaling, read by the classifier as it is", row="bicubic"),
    "lr_finetune": Kind(
        "the classifier fine-tuned on low-resolution inputs (bicubic-upscaled)",
        _CLASSIFIER_FIT | {"inputs": "degraded"},
    ),
    "lr_mixed": Kind(
        "the classifier fine-tuned on low-resolution inputs and originals at random (one classifier for both)",
        _CLASSIFIER_FIT | {"inputs": "mixed"},
    ),
    "lr_scratch": Kind(
        "the classifier's architecture trained from scratch on low-resolution inputs",
        _SCRATCH_FIT | {"inputs": "degraded"},
        from_scratch=True,
    ),
    "pixel": Kind(
        "an SR network trained with an L1 pixel loss, read by the classifier as it is",
        {
            "epochs": 1,
            "batch_size": 64,
            "optimizer": {"name": "adam", "lr": 2.0e-3},
            "scheduler": {"name": "cosine", "warmup_epochs": 0.1, "warmup_lr": 1.0e-5},
            "monitor": "psnr",
        },
        [{"type": "pixel_l1"}],
    ),
    "darionet": Kind(
        "DarioNet: SR trained with the MSE of the frozen classifier's logits", _STUDENT_FIT, [{"type": "logit_mse"}]
    ),
    "darionet_pixel": Kind("DarioNet with an L1 pixel term (weight 16)", _STUDENT_FIT, [{"type": "logit_mse"}, _PIXEL]),
    "joint": Kind(
        "SR and classifier trained together (SR4IR) with DarioNet's logit loss + 16·L1; read by its own classifier",
        _JOINT_FIT,
        [{"type": "logit_mse"}, _PIXEL],
    ),
    "joint_feature": Kind(
        "SR and classifier trained together (SR4IR) with the L1 of the classifier's layer4 features + 16·L1",
        _JOINT_FIT,
        [{"type": "feature", "layers": ["layer4"], "criterion": "l1"}, _PIXEL],
    ),
}
