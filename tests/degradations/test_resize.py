"""The paper's degradation: bicubic downscaling by 0.32 with sizes rounded half up."""

from __future__ import annotations

import pytest
import torch

from srdistill.catalog import catalog
from srdistill.degradations.resize import BicubicConfig, Downscale, build_bicubic


def checkerboard(size: int) -> torch.Tensor:
    i = torch.arange(size)
    return ((i[:, None] + i[None, :]) % 2).float().view(1, 1, size, size)


@pytest.mark.parametrize(
    ("hw", "expected"),
    [((256, 256), (82, 82)), ((28, 28), (9, 9)), ((64, 100), (20, 32)), ((30, 17), (10, 5))],
)
def test_output_size(hw: tuple[int, int], expected: tuple[int, int]) -> None:
    down = build_bicubic(BicubicConfig(type="bicubic"))
    assert down.output_size(hw) == expected
    assert down(torch.rand(2, 3, *hw)).shape == (2, 3, *expected)


def test_built_from_the_registry() -> None:
    cfg = BicubicConfig(type="bicubic", factor=0.5, antialias=False)
    down = catalog().degradations.build(cfg)
    assert isinstance(down, Downscale)
    assert (down.factor, down.mode, down.antialias) == (0.5, "bicubic", False)
    assert list(down.parameters()) == []


def test_values_stay_near_unit_range() -> None:
    torch.manual_seed(0)
    x = torch.rand(4, 3, 64, 64)
    y = build_bicubic(BicubicConfig(type="bicubic"))(x)
    assert y.min() > -0.1 and y.max() < 1.1
    assert abs(y.mean() - x.mean()) < 0.02


def test_constant_image_stays_constant() -> None:
    x = torch.full((1, 3, 50, 70), 0.3)
    for antialias in (True, False):
        y = Downscale(0.32, antialias=antialias)(x)
        assert torch.allclose(y, torch.full_like(y, 0.3), atol=1e-5)


def test_antialias_removes_aliasing() -> None:
    x = checkerboard(100)
    smooth = Downscale(0.32, antialias=True)(x)
    aliased = Downscale(0.32, antialias=False)(x)
    assert not torch.allclose(smooth, aliased)
    # a blurred checkerboard is close to its mean, 0.5; the aliased one is not
    assert (smooth - 0.5).abs().mean() < 0.5 * (aliased - 0.5).abs().mean()


def test_gradient_reaches_the_input() -> None:
    x = torch.rand(1, 1, 28, 28, requires_grad=True)
    Downscale(0.32)(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("factor", [0, -0.5, 1.5])
def test_factor_out_of_range(factor: float) -> None:
    with pytest.raises(ValueError):
        BicubicConfig(type="bicubic", factor=factor)

