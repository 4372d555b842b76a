"""The pixel loss: no teacher needed."""

from __future__ import annotations

import pytest
import torch

from srdistill.losses.base import LossInputs
from srdistill.losses.pixel import PixelL1, PixelL1Config, build_pixel_l1


def test_pixel_l1_value() -> None:
    hr = torch.tensor([[[[0.0, 1.0], [0.5, 0.5]]]])
    sr = torch.tensor([[[[0.5, 0.0], [0.5, 0.25]]]])
    # (0.5 + 1 + 0 + 0.25) / 4
    loss = build_pixel_l1(PixelL1Config(type="pixel_l1"))
    assert loss(LossInputs(hr, sr, torch.tensor([0]))).item() == pytest.approx(0.4375)


def test_pixel_l1_needs_no_teacher() -> None:
    assert PixelL1.needs_teacher is False
    hr = torch.rand(2, 3, 5, 5)
    assert PixelL1()(LossInputs(hr, hr + 0.1, torch.tensor([0, 1]))).item() == pytest.approx(0.1)


def test_weight_defaults_to_one_and_cannot_be_negative() -> None:
    assert PixelL1Config(type="pixel_l1").weight == 1.0
    with pytest.raises(ValueError):
        PixelL1Config(type="pixel_l1", weight=-0.5)
