"""Interpolation students: the parameter-free bilinear and bicubic baselines."""

from __future__ import annotations

import pytest
import torch
from kornia.geometry.transform import resize as kornia_resize

from srdistill.catalog import catalog
from srdistill.data.base import DataInfo
from srdistill.students.interpolation import BicubicConfig, BilinearConfig, build_interpolation

INFO = DataInfo(channels=3, num_classes=3, hr_size=(40, 40), class_names=("a", "b", "c"))


@pytest.mark.parametrize("config", [BicubicConfig(type="bicubic"), BilinearConfig(type="bilinear")])
def test_equals_kornia_resize(config) -> None:
    student = build_interpolation(config, INFO)
    assert list(student.parameters()) == []
    assert not student.trainable
    torch.manual_seed(0)
    lr = torch.rand(2, 3, 13, 9)
    expected = kornia_resize(lr, (40, 28), interpolation=config.type, align_corners=False)
    assert torch.allclose(student(lr, (40, 28)), expected, atol=1e-6)


def test_bilinear_and_bicubic_differ() -> None:
    torch.manual_seed(0)
    lr = torch.rand(1, 1, 9, 9)
    bicubic = catalog().students.build(BicubicConfig(type="bicubic"), INFO)
    bilinear = catalog().students.build(BilinearConfig(type="bilinear"), INFO)
    assert not torch.allclose(bicubic(lr, (28, 28)), bilinear(lr, (28, 28)))


def test_same_size_is_identity() -> None:
    lr = torch.rand(1, 3, 16, 16)
    assert torch.equal(build_interpolation(BicubicConfig(type="bicubic"))(lr, (16, 16)), lr)
