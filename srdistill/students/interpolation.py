"""Non-learned students: the interpolation baselines of the paper's Table 1."""

from __future__ import annotations

from typing import Literal

from torch import nn

from srdistill.data.base import DataInfo
from srdistill.students.base import StudentConfig, SuperResolver


class BicubicConfig(StudentConfig):
    """Bicubic interpolation to the original size (kornia, align_corners=False)."""

    type: Literal["bicubic"]


class BilinearConfig(StudentConfig):
    """Bilinear interpolation to the original size (kornia, align_corners=False)."""

    type: Literal["bilinear"]


def build_interpolation(cfg: BicubicConfig | BilinearConfig, info: DataInfo | None = None) -> SuperResolver:
    return SuperResolver(nn.Identity(), cfg.type)
