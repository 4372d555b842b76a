"""ESRGAN's RRDB generator (basicsr ``RRDBNet``) as a student."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from srdistill.checkpoints import load_weights
from srdistill.compat.basicsr import rrdbnet_class
from srdistill.data.base import DataInfo
from srdistill.registry import ComponentConfig
from srdistill.students.base import SuperResolver


class RRDBConfig(ComponentConfig):
    """ESRGAN's RRDB network (basicsr RRDBNet), ×4, then resized to the original size."""

    type: Literal["rrdb"]
    num_feat: int = Field(64, ge=1, description="Feature channels (ESRGAN: 64).")
    num_block: int = Field(23, ge=1, description="RRDB blocks (ESRGAN: 23).")
    num_grow_ch: int = Field(32, ge=1, description="Growth channels in each dense block (ESRGAN: 32).")
    scale: Literal[1, 2, 4] = Field(4, description="Network upscale; ×1 and ×2 use pixel-unshuffle.")
    weights: Path | None = Field(None, description="Initial weights: basicsr layout, .safetensors or .pth.")
    resize: Literal["bicubic", "bilinear", "area"] = Field(
        "bicubic", description="Interpolation from the network's output to the original size."
    )


def build_rrdb(cfg: RRDBConfig, info: DataInfo) -> SuperResolver:
    rrdbnet = rrdbnet_class()
    net = rrdbnet(
        num_in_ch=info.channels,
        num_out_ch=info.channels,
        scale=cfg.scale,
        num_feat=cfg.num_feat,
        num_block=cfg.num_block,
        num_grow_ch=cfg.num_grow_ch,
    )
    if cfg.weights is not None:
        load_weights(net, cfg.weights, what="student.weights")
    return SuperResolver(net, cfg.resize, multiple=4 // cfg.scale)
