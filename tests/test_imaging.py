"""Image-tensor helpers: sizes rounded half up, resize, centre crop, uint8 conversion."""

from __future__ import annotations

import pytest
import torch
from kornia.geometry.transform import resize as kornia_resize

from srdistill.imaging import center_crop, resize, scaled_size, to_unit


@pytest.mark.parametrize(
    ("size", "factor", "expected"),
    [
        ((256, 256), 0.32, (82, 82)),  # 81.92
        ((28, 28), 0.32, (9, 9)),  # 8.96
        ((224, 100), 0.32, (72, 32)),  # 71.68, 32.0
        ((5, 3), 0.5, (3, 2)),  # 2.5 and 1.5: half up
        ((7, 9), 0.5, (4, 5)),  # 3.5 and 4.5: half up, not to even
        ((1, 2), 0.1, (1, 1)),  # at least one pixel
        ((64, 48), 1.0, (64, 48)),
    ],
)
def test_scaled_size(size: tuple[int, int], factor: float, expected: tuple[int, int]) -> None:
    assert scaled_size(size, factor) == expected


def test_resize_is_a_noop_at_the_same_size() -> None:
    x = torch.rand(2, 3, 10, 12)
    assert resize(x, (10, 12)) is x


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_resize_matches_kornia(mode: str) -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 3, 20, 30)
    out = resize(x, (7, 11), mode, antialias=True)
    assert out.shape == (2, 3, 7, 11)
    expected = kornia_resize(x, (7, 11), interpolation=mode, align_corners=False, antialias=True)
    assert torch.allclose(out, expected)


def test_resize_nearest_and_area() -> None:
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.equal(resize(x, (2, 2), "area", antialias=False), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    assert resize(x, (8, 8), "nearest").shape == (1, 1, 8, 8)


def test_resize_is_differentiable() -> None:
    x = torch.rand(1, 1, 12, 12, requires_grad=True)
    resize(x, (5, 5)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_center_crop_slices_the_middle() -> None:
    x = torch.arange(6 * 7.0).view(1, 1, 6, 7)
    out = center_crop(x, (2, 3))
    assert torch.equal(out, x[..., 2:4, 2:5])
    assert torch.equal(center_crop(x, (6, 7)), x)
    assert torch.equal(center_crop(x, (5, 5)), x[..., 0:5, 1:6])  # odd margins: floor on top/left


def test_center_crop_too_large() -> None:
    with pytest.raises(ValueError, match="cannot crop"):
        center_crop(torch.zeros(1, 1, 4, 4), (5, 4))


def test_to_unit() -> None:
    x = torch.tensor([0, 51, 255], dtype=torch.uint8)
    assert torch.allclose(to_unit(x), torch.tensor([0.0, 0.2, 1.0]))
    f = torch.tensor([0.5], dtype=torch.float64)
    assert to_unit(f).dtype == torch.float32
