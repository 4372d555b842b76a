"""Real-ESRGAN's second-order degradation: sizes, range, per-sample seeds, determinism."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from srdistill.catalog import catalog
from srdistill.degradations.realesrgan import RealESRGANConfig, RealESRGANDegradation
from srdistill.errors import UserError


def degradation(**settings) -> RealESRGANDegradation:
    return catalog().degradations.build(RealESRGANConfig(type="realesrgan", **settings))


def originals(n: int = 4, channels: int = 3, size: tuple[int, int] = (48, 40)) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, channels, *size, generator=g)


@pytest.mark.parametrize(
    ("channels", "size", "scale"),
    [(3, (48, 40), 4.0), (1, (28, 28), 4.0), (3, (33, 50), 3.125), (3, (64, 64), 2.0), (1, (17, 23), 4.0)],
)
def test_the_output_has_the_announced_size_and_lies_on_the_8_bit_grid(channels, size, scale) -> None:
    deg = degradation(scale=scale)
    torch.manual_seed(0)
    lr = deg(originals(channels=channels, size=size))
    assert lr.shape == (4, channels, *deg.output_size(size))
    assert lr.dtype == torch.float32
    assert lr.min() >= 0.0 and lr.max() <= 1.0
    assert torch.allclose(lr * 255, (lr * 255).round(), atol=1e-4)  # quantised as Real-ESRGAN's LQ images


def test_the_paper_size_at_scale_3_125_is_the_bicubic_degradations() -> None:
    bicubic = catalog().degradations.build(catalog().degradations.get("bicubic").config(type="bicubic"))
    assert degradation(scale=1 / 0.32).output_size((256, 256)) == bicubic.output_size((256, 256)) == (82, 82)


def test_the_same_seed_gives_the_same_images_and_another_seed_others() -> None:
    deg, hr = degradation(), originals()
    torch.manual_seed(7)
    first = deg(hr)
    torch.manual_seed(7)
    again = deg(hr)
    torch.manual_seed(8)
    other = deg(hr)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_every_sample_draws_its_own_degradation() -> None:
    """Identical originals in one batch come out different (kernels, resize, noise, JPEG per sample)."""
    hr = originals(n=1).expand(6, -1, -1, -1)
    torch.manual_seed(0)
    lr = degradation()(hr)
    assert all(not torch.equal(lr[0], lr[i]) for i in range(1, 6))


def test_the_global_generators_are_untouched_but_for_one_draw_per_batch() -> None:
    """basicsr draws from the global generators; each sample's draws are isolated, so the training loop's
    own random stream (shuffling, augmentation) and exact resume do not depend on the degradation."""
    deg, hr = degradation(), originals()
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    deg(hr)
    after = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    torch.randint(0, 2**31 - 1, (4,))  # the per-sample seeds
    assert after == (random.random(), np.random.rand(), torch.rand(1))


def test_no_noise_no_blur_no_jpeg_settings_give_a_plain_resize() -> None:
    """The pipeline's steps follow the options: with each one neutralised only the resize remains."""
    neutral = dict(
        resize_prob=(0.0, 0.0, 1.0),
        resize_prob2=(0.0, 0.0, 1.0),
        noise_range=(0.0, 0.0),
        noise_range2=(0.0, 0.0),
        gaussian_noise_prob=1.0,
        gaussian_noise_prob2=1.0,
        jpeg_range=(99.0, 99.0),
        jpeg_range2=(99.0, 99.0),
        second_blur_prob=0.0,
        final_sinc_prob=0.0,
        kernel_list=("iso",),
        kernel_prob=(1.0,),
        sinc_prob=0.0,
        blur_sigma=(0.1, 0.2),  # a near-delta kernel
    )
    flat = torch.full((2, 3, 32, 32), 0.5)
    torch.manual_seed(0)
    lr = degradation(**neutral)(flat)
    assert lr.shape == (2, 3, 8, 8)
    assert (lr - 0.5).abs().max() <= 2 / 255  # a constant stays constant up to JPEG rounding
    noisy = degradation(**{**neutral, "noise_range": (30.0, 30.0)})(flat)
    assert (noisy - 0.5).abs().max() > 4 / 255


def test_gt_usm_on_images_too_small_for_its_window_is_an_error() -> None:
    from srdistill.degradations import training_target

    with pytest.raises(UserError, match="gt_usm"):
        training_target(degradation(), originals(size=(20, 20)))
    assert torch.equal(training_target(degradation(gt_usm=False), originals(size=(20, 20))), originals(size=(20, 20)))
    torch.manual_seed(0)
    assert degradation()(originals(size=(20, 20))).shape == (4, 3, 5, 5)  # evaluation never sharpens


def test_gt_usm_is_on_by_default_and_sharpens_with_basicsrs_usm() -> None:
    """Real-ESRNet's options set gt_usm: True; the target is basicsr's USMSharp of the original."""
    from basicsr.utils import USMSharp

    from srdistill.degradations import training_target
    from srdistill.degradations.blur import GaussianBlurConfig
    from srdistill.degradations.chain import ChainConfig

    assert RealESRGANConfig(type="realesrgan").gt_usm is True
    hr = originals(size=(32, 32))
    sharp = training_target(degradation(), hr)
    assert torch.equal(sharp, USMSharp()(hr)) and not torch.equal(sharp, hr)
    chain = catalog().degradations.build(
        ChainConfig(type="chain", steps=[GaussianBlurConfig(type="gaussian_blur"), RealESRGANConfig(type="realesrgan")])
    )
    assert torch.equal(training_target(chain, hr), sharp)  # a chain passes it on
    bicubic = catalog().degradations.build(catalog().degradations.get("bicubic").config(type="bicubic"))
    assert training_target(bicubic, hr) is hr


@pytest.mark.parametrize("gt_usm", [True, False])
def test_training_degrades_and_compares_with_the_same_sharpened_original(write_recipe, gt_usm: bool) -> None:
    """As Real-ESRNet: the input is degraded from usm(original), and L1 compares SR with usm(original)."""
    import torch.nn.functional as F
    from basicsr.utils import USMSharp

    from srdistill.engine.build import build
    from srdistill.engine.tasks import TrainBatch, make_task
    from srdistill.imaging import to_unit
    from srdistill.recipe.loading import load_recipe

    recipe = load_recipe(
        write_recipe(degradation={"type": "realesrgan", "gt_usm": gt_usm}, losses=[{"type": "pixel_l1"}])
    )
    parts = build(recipe, "train", torch.device("cpu"))
    task = make_task(recipe, parts)
    hr = to_unit(torch.stack([parts.data.train[i][0] for i in range(4)]))
    target = USMSharp()(hr) if gt_usm else hr
    torch.manual_seed(3)
    loss = task.forward(TrainBatch(hr, torch.zeros(4, dtype=torch.long), torch.arange(4)), "student")["pixel_l1"]
    torch.manual_seed(3)
    sr = parts.student(parts.degradation(target), hr.shape[-2:])
    assert torch.allclose(loss, F.l1_loss(sr, target), atol=1e-6)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"resize_prob": (0.5, 0.5, 0.5)}, "sum to 1"),
        ({"noise_range": (30.0, 1.0)}, "low <= high"),
        ({"kernel_prob": (1.0,)}, "one probability per kernel_list entry"),
        ({"blur_kernel_size": 20}, "odd"),
        ({"blur_sigma": (1.0, 1.0)}, "0 < low < high"),
        ({"jpeg_range2": (30.0, 100.0)}, "divides by zero"),
        ({"kernel_list": ("gaussian",)}, "kernel_list"),
    ],
)
def test_inconsistent_options_are_recipe_errors(settings, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RealESRGANConfig(type="realesrgan", **settings)
