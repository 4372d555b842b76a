"""ESRGAN's RRDB generator (basicsr ``RRDBNet``) as a student."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from pydantic import Field, field_validator
from torch import nn

from srdistill.checkpoints import check_and_load, read_metadata, read_state_dict
from srdistill.compat.basicsr import rrdbnet_class
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.students.base import LearnedStudentConfig, SuperResolver
from srdistill.students.rrdb_layouts import infer_arch, to_basicsr
from srdistill.weights import resolve_student, student_weights

#: ESRGAN's sizes, used when neither the recipe nor a weights file gives them
DEFAULTS = {"num_feat": 64, "num_block": 23, "num_grow_ch": 32, "scale": 4}


class RRDBConfig(LearnedStudentConfig):
    """ESRGAN's RRDB network (basicsr RRDBNet), ×4, then resized to the original size."""

    type: Literal["rrdb"]
    num_feat: int | None = Field(None, ge=1, description="Feature channels; default: from weights, else 64.")
    num_block: int | None = Field(None, ge=1, description="RRDB blocks; default: from weights, else 23.")
    num_grow_ch: int | None = Field(None, ge=1, description="Dense-block growth; default: from weights, else 32.")
    scale: Literal[1, 2, 4] | None = Field(None, description="Network upscale (×1/×2 pixel-unshuffle); default 4.")
    weights: Path | str | None = Field(
        None,
        description="ESRGAN (old or new), BasicSR or Real-ESRGAN RRDB weights, .pth or .safetensors, or a "
        "release name (RealESRGAN_x4plus, ...; `srdistill weights list`), fetched into torch's hub cache.",
    )
    resize: Literal["bicubic", "bilinear", "area"] = Field(
        "bicubic", description="Interpolation from the network's output to the original size."
    )
    residual: bool = Field(
        False,
        description="Add the network's output to a bicubic upscale of its input. Without weights the last "
        "layer starts at zero, so the untrained student is bicubic and training starts from there.",
    )

    _release_or_path = field_validator("weights", mode="before")(student_weights)

    @classmethod
    def tiny(cls, folder: Path) -> RRDBConfig:
        return cls(type="rrdb", num_feat=8, num_block=1, num_grow_ch=4)


def build_rrdb(cfg: RRDBConfig, info: DataInfo) -> SuperResolver:
    state = None
    found: dict[str, int] = {}
    if cfg.weights is not None:
        source = f"student.weights ({cfg.weights})"
        path = resolve_student(cfg.weights)
        state = to_basicsr(read_state_dict(path, "student.weights"), source)
        _check_residual(path, cfg)
        arch = infer_arch(state, source)
        if arch.num_in_ch != info.channels:
            raise UserError(
                f"student.weights ({cfg.weights}) is an RRDB for {arch.num_in_ch}-channel images, "
                f"but the data set has {info.channels}.",
                "Use weights trained on images with the data set's channels (data.channels for image folders).",
            )
        found = {"num_feat": arch.num_feat, "num_block": arch.num_block, "num_grow_ch": arch.num_grow_ch}
        found["scale"] = arch.scale
    sizes = {key: getattr(cfg, key) or found.get(key, default) for key, default in DEFAULTS.items()}
    make = rrdbnet_class()
    if state is None:
        net = make(num_in_ch=info.channels, num_out_ch=info.channels, **sizes)
        if cfg.residual:  # start exactly at the bicubic upscale
            nn.init.zeros_(net.conv_last.weight)
            nn.init.zeros_(net.conv_last.bias)
    else:
        # every weight comes from the file: skip basicsr's random initialisation, which takes
        # about a second for the paper's network (the meta device allocates and computes nothing)
        with torch.device("meta"):
            net = make(num_in_ch=info.channels, num_out_ch=info.channels, **sizes)
        net.to_empty(device="cpu")
        check_and_load(net, state, f"student.weights ({cfg.weights})")
    config = cfg.model_copy(update=sizes)
    return SuperResolver(net, cfg.resize, multiple=4 // sizes["scale"], config=config, residual=cfg.residual)


def _check_residual(path: Path, cfg: RRDBConfig) -> None:
    """Weights trained as a correction to bicubic mean nothing without it, and the reverse."""
    saved = read_metadata(path).get("config", {}).get("residual") if path.suffix == ".safetensors" else None
    if saved is not None and bool(saved) != cfg.residual:
        raise UserError(
            f"student.weights ({cfg.weights}) was trained with residual: {str(bool(saved)).lower()}, "
            f"but the student here has residual: {str(cfg.residual).lower()}.",
            f"Set student.residual: {str(bool(saved)).lower()} (--set student.residual="
            f"{str(bool(saved)).lower()}) so the weights are used as they were trained.",
        )
