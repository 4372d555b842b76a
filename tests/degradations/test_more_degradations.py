"""Blur, noise, JPEG, chains of them, and the MATLAB-style bicubic kernel."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from srdistill.catalog import catalog
from srdistill.degradations.blur import GaussianBlur
from srdistill.degradations.jpeg import JPEG
from srdistill.degradations.noise import GaussianNoise
from srdistill.degradations.resize import Downscale
from srdistill.recipe.loading import validate_recipe


def smooth(n: int = 2, c: int = 3, size: int = 32) -> torch.Tensor:
    torch.manual_seed(0)
    return F.interpolate(torch.rand(n, c, 4, 4), size=(size, size), mode="bilinear", align_corners=False)


def test_blur_keeps_constants_and_removes_detail() -> None:
    flat = torch.full((1, 1, 16, 16), 0.3)
    assert torch.allclose(GaussianBlur(1.5)(flat), flat, atol=1e-6)
    noise = torch.rand(1, 1, 64, 64)
    assert GaussianBlur(2.0)(noise).std() < 0.5 * noise.std()
    assert GaussianBlur(1.0).kernel_size == 7 and GaussianBlur(1.0, kernel_size=4).kernel_size == 5


def test_noise_has_the_asked_std_is_seeded_and_clipped() -> None:
    images = torch.full((4, 1, 64, 64), 0.5)
    torch.manual_seed(1)
    a = GaussianNoise(0.05)(images)
    torch.manual_seed(1)
    b = GaussianNoise(0.05)(images)
    assert torch.equal(a, b)
    assert (a - images).std().item() == pytest.approx(0.05, rel=0.05)
    assert GaussianNoise(1.0)(images).min() >= 0 and GaussianNoise(1.0)(images).max() <= 1


def test_jpeg_quality_orders_the_error_and_grey_works() -> None:
    images = smooth() + 0.05 * torch.rand(2, 3, 32, 32)
    err_low = (JPEG(10)(images) - images).pow(2).mean()
    err_high = (JPEG(95)(images) - images).pow(2).mean()
    assert err_high < err_low
    grey = smooth(c=1)
    assert JPEG(50)(grey).shape == grey.shape


def test_matlab_kernel_is_torchs_antialiased_bicubic() -> None:
    images = torch.rand(2, 3, 28, 28)
    matlab = Downscale(0.32, kernel="matlab")(images)
    assert matlab.shape[-2:] == (9, 9)
    assert torch.allclose(matlab, F.interpolate(images, (9, 9), mode="bicubic", antialias=True, align_corners=False))
    assert not torch.allclose(matlab, Downscale(0.32)(images), atol=1e-3)  # not kornia's Gaussian antialias


def test_a_chain_applies_its_steps_in_order(make_recipe, tmp_path) -> None:
    steps = [
        {"type": "gaussian_blur", "sigma": 0.8},
        {"type": "bicubic", "factor": 0.5},
        {"type": "jpeg", "quality": 60},
    ]
    recipe = validate_recipe(make_recipe(tmp_path, degradation={"type": "chain", "steps": steps}))
    chain = catalog().degradations.build(recipe.degradation)
    images = smooth(c=1, size=28)
    assert chain.output_size((28, 28)) == (14, 14)
    expected = JPEG(60)(Downscale(0.5)(GaussianBlur(0.8)(images)))
    assert torch.allclose(chain(images), expected, atol=1e-6)


def test_chain_steps_are_validated_like_any_degradation(make_recipe, tmp_path) -> None:
    from srdistill.recipe.loading import RecipeError

    bad = {"type": "chain", "steps": [{"type": "blur"}, {"type": "bicubic", "factr": 0.5}]}
    with pytest.raises(RecipeError) as info:
        validate_recipe(make_recipe(tmp_path, degradation=bad))
    text = str(info.value)
    assert "degradation.steps.0: unknown degradation 'blur'" in text
    assert "degradation.steps.1.factr: unknown key. Did you mean 'factor'?" in text
