"""Any timm classifier as the teacher, with weights from a local file or the Hugging Face hub."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from torch import nn

from srdistill.checkpoints import check_and_load, read_state_dict
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.hf_hub import check_hf_ref, hf_file, hf_pretrained_cfg, is_hf_ref, timm_hub_ref
from srdistill.registry import did_you_mean
from srdistill.teachers.base import Teacher, TeacherConfig


class TimmTeacherConfig(TeacherConfig):
    """Any timm classifier; preprocessing from timm's pretrained config unless set here."""

    type: Literal["timm"]
    model: str = Field("resnet50", description="timm model name, e.g. resnet50, convnext_tiny.")
    weights: Path | str | None = Field(
        None,
        description="Local weights (.safetensors, .pth, .bin) or hf-hub:<org>/<repo> (Hugging Face cache); "
        "none: random init unless pretrained.",
    )
    pretrained: bool = Field(
        False, description="timm's pretrained weights for `model` (its tag picks them), via the Hugging Face cache."
    )
    num_classes: int | None = Field(None, ge=1, description="Classifier outputs; default: the data set's classes.")
    in_chans: int | None = Field(None, ge=1, description="Input channels; default: the data set's channels.")
    input_size: int | None = Field(None, ge=1, description="Square input side; default: timm's pretrained config.")
    crop_pct: float | None = Field(None, gt=0, le=1, description="Centre-crop share; default: timm's config.")
    mean: tuple[float, ...] | None = Field(None, description="Normalisation mean; default: timm's config.")
    std: tuple[float, ...] | None = Field(None, description="Normalisation std; default: timm's config.")
    interpolation: Literal["bilinear", "bicubic"] | None = Field(None, description="Resize mode; default: timm's.")
    model_args: dict[str, Any] = Field(default_factory=dict, description="Extra timm.create_model arguments.")
    new_classifier: bool = Field(
        False,
        description="Load every weight but the classifier, which starts fresh for num_classes (to fine-tune "
        "the teacher to a new label set).",
    )

    def label(self) -> str:
        return self.model

    def random_init(self) -> bool:
        return self.weights is None and not self.pretrained

    def with_weights(self, path: Path) -> TimmTeacherConfig:
        """Every weight from ``path``: nothing pretrained, the classifier included."""
        return self.model_copy(update={"weights": path, "pretrained": False, "new_classifier": False})

    @classmethod
    def tiny(cls, folder: Path) -> TimmTeacherConfig:
        return cls(type="timm", model="test_resnet", input_size=32, crop_pct=1.0)

    @field_validator("weights", mode="before")
    @classmethod
    def _path_or_hub(cls, value: object) -> object:
        if is_hf_ref(value):
            return check_hf_ref(value)  # type: ignore[arg-type]
        return Path(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_source(self) -> TimmTeacherConfig:
        if self.pretrained and self.weights is not None:
            raise ValueError("set either weights or pretrained: true, not both")
        return self

    @field_validator("mean", "std")
    @classmethod
    def _usable_normalisation(cls, values: tuple[float, ...] | None, info: ValidationInfo) -> tuple[float, ...] | None:
        if values is None:
            return values
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"every value must be a finite number, got {list(values)}")
        if info.field_name == "std" and any(v <= 0 for v in values):
            raise ValueError(f"every value must be positive (images are divided by it), got {list(values)}")
        return values


def weights_file(cfg: TimmTeacherConfig) -> Path | None:
    """The local file of the teacher's weights: the recipe's path, or the hub's file in its cache."""
    if cfg.pretrained:
        return hf_file(timm_hub_ref(cfg.model), "teacher.pretrained")
    if is_hf_ref(cfg.weights):
        return hf_file(str(cfg.weights), "teacher.weights")
    return cfg.weights  # type: ignore[return-value]


def build_timm_teacher(cfg: TimmTeacherConfig, info: DataInfo) -> Teacher:
    import timm
    from timm.data import resolve_model_data_config

    if not timm.is_model(cfg.model):
        raise UserError(
            f"timm has no model '{cfg.model}'.{did_you_mean(cfg.model, timm.list_models())}",
            "Pick a name from `timm.list_models()`, e.g. resnet50 or resnet50.tv_in1k.",
        )
    in_chans = cfg.in_chans or info.channels
    num_classes = cfg.num_classes or info.num_classes
    kwargs = dict(num_classes=num_classes, in_chans=in_chans, **cfg.model_args)
    # a hub repo exported by timm carries its preprocessing in config.json
    overlay = _preprocessing(hf_pretrained_cfg(str(cfg.weights))) if is_hf_ref(cfg.weights) else {}
    try:
        model = timm.create_model(cfg.model, pretrained=False, pretrained_cfg_overlay=overlay or None, **kwargs)
    except RuntimeError as e:  # e.g. an unknown pretrained tag
        raise UserError(
            f"timm cannot build '{cfg.model}': {e}", "Check teacher.model and teacher.model_args."
        ) from None
    path = weights_file(cfg)
    if path is not None and cfg.new_classifier:
        _without_classifier(model, path)
    elif path is not None:
        model = _with_weights(model, cfg.model, path, kwargs)

    # evaluation preprocessing of the weights' pretrained config (the tag in the name picks it)
    data_cfg = resolve_model_data_config(model, use_test_size=True)
    side = cfg.input_size or data_cfg["input_size"][-1]
    mean = cfg.mean or tuple(data_cfg["mean"])
    std = cfg.std or tuple(data_cfg["std"])
    if len(mean) != in_chans or len(std) != in_chans:
        raise UserError(
            f"teacher: mean/std have {len(mean)}/{len(std)} values but the model takes {in_chans} channels.",
            f"Set teacher.mean and teacher.std to {in_chans} values each.",
        )
    return Teacher(
        model,
        input_size=(side, side),
        mean=mean,
        std=std,
        interpolation=cfg.interpolation or _interp(data_cfg.get("interpolation")),
        crop_pct=cfg.crop_pct if cfg.crop_pct is not None else float(data_cfg.get("crop_pct", 1.0)),
    )


def _preprocessing(pretrained_cfg: dict[str, Any]) -> dict[str, Any]:
    keys = ("input_size", "test_input_size", "crop_pct", "test_crop_pct", "mean", "std", "interpolation")
    return {k: pretrained_cfg[k] for k in keys if k in pretrained_cfg}


def _with_weights(model: nn.Module, name: str, path: Path, kwargs: dict[str, Any]) -> nn.Module:
    """``model`` with the weights in ``path``, loaded strictly and offline.

    A file that fits the model as it is (timm, torchvision ResNets, srdistill checkpoints) is
    loaded as is. Otherwise timm loads it as ``timm.create_model(...,
    pretrained_cfg_overlay=dict(file=...))`` does: the architecture's checkpoint filter converts
    foreign layouts and the first convolution is adapted to ``in_chans``. The classifier is
    never silently re-initialised; if timm fails too, the error lists every mismatching key.
    """
    import timm

    state = read_state_dict(path, "teacher.weights")
    try:
        check_and_load(model, state, f"teacher.weights ({path})")
        return model
    except UserError as mismatch:
        # keep the preprocessing already resolved (a hub repo's own), load from the file only
        overlay = {**_preprocessing(model.pretrained_cfg), "file": str(path), "num_classes": kwargs["num_classes"]}  # type: ignore[arg-type]
        try:
            return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
        except Exception:
            raise mismatch from None


def classifier_names(model: nn.Module) -> list[str]:
    """State-dict keys of a timm model's classifier (``fc.weight``, ``head.fc.bias``, ...)."""
    classifier = model.get_classifier()  # type: ignore[operator]
    ids = {id(t) for t in [*classifier.parameters(), *classifier.buffers()]}
    return [k for k, v in model.state_dict(keep_vars=True).items() if id(v) in ids]


def _without_classifier(model: nn.Module, path: Path) -> None:
    """Load every weight of ``path`` except the classifier's (kept freshly initialised)."""
    head = set(classifier_names(model))
    state = {k: v for k, v in read_state_dict(path, "teacher.weights").items() if k not in head}
    check_and_load(_Body(model, head), state, f"teacher.weights ({path}) without its classifier")


class _Body(nn.Module):
    """A view of a model without its classifier, for a strict load of everything else."""

    def __init__(self, model: nn.Module, head: set[str]) -> None:
        super().__init__()
        self._model, self._head = [model], head

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        return {k: v for k, v in self._model[0].state_dict().items() if k not in self._head}

    def load_state_dict(self, state: Any, strict: bool = True, assign: bool = False) -> Any:  # type: ignore[override]
        return self._model[0].load_state_dict(state, strict=False)


def _interp(name: object) -> Literal["bilinear", "bicubic"]:
    return "bicubic" if name == "bicubic" else "bilinear"
