"""Losses between the teacher's logits on the original and on the SR image."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from srdistill.catalog import catalog
from srdistill.losses.base import Loss, LossInputs
from srdistill.losses.logits import CEGap, KLConfig, KLDivergence, LogitMSE, build_kl

LN3 = math.log(3.0)


def inputs(hr_logits: list[list[float]], sr_logits: list[list[float]], labels: list[int]) -> LossInputs:
    images = torch.zeros(len(labels), 1, 4, 4)
    return LossInputs(
        hr=images,
        sr=images.clone(),
        labels=torch.tensor(labels),
        hr_logits=torch.tensor(hr_logits),
        sr_logits=torch.tensor(sr_logits, requires_grad=True),
    )


def _default_config_works(name: str) -> bool:
    entry = catalog().losses.get(name)
    try:
        assert entry.config is not None
        entry.config(type=name)
    except ValidationError:  # needs settings (e.g. perceptual's weights file): tested on its own
        return False
    return True


# every registered loss that works with default settings (the others have tests of their own)
LOSS_NAMES = [n for n in catalog().losses.names() if _default_config_works(n)]


def build(name: str) -> Loss:
    entry = catalog().losses.get(name)
    assert entry.config is not None
    return entry.build(entry.config(type=name))


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_every_loss_is_zero_when_sr_equals_original(name: str) -> None:
    torch.manual_seed(0)
    hr, logits = torch.rand(4, 1, 8, 8), torch.randn(4, 5)
    loss = build(name)
    assert isinstance(loss, Loss)
    value = loss(LossInputs(hr, hr.clone(), torch.tensor([0, 1, 2, 3]), logits, logits.clone()))
    assert value.shape == ()
    assert value.item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_every_loss_has_a_gradient_towards_the_sr_side(name: str) -> None:
    torch.manual_seed(0)
    hr, sr = torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8, requires_grad=True)
    hr_logits, sr_logits = torch.randn(4, 5), torch.randn(4, 5, requires_grad=True)
    loss = build(name)
    value = loss(LossInputs(hr, sr, torch.tensor([0, 1, 2, 3]), hr_logits, sr_logits))
    value.backward()
    grad = sr_logits.grad if loss.needs_teacher else sr.grad
    assert grad is not None and grad.abs().sum() > 0


def test_logit_mse_value() -> None:
    batch = inputs([[1.0, 2.0], [0.0, 0.0]], [[3.0, 0.0], [0.0, 1.0]], [0, 1])
    # ((2² + 2²) + (0 + 1²)) / 4
    assert LogitMSE()(batch).item() == pytest.approx(9 / 4)


def test_ce_gap_value() -> None:
    # original: uniform over 2 classes, CE ln 2; SR: p(label) = 3/4, CE ln 4/3
    batch = inputs([[0.0, 0.0]], [[LN3, 0.0]], [0])
    assert CEGap()(batch).item() == pytest.approx(math.log(4 / 3) - math.log(2))
    # negative when SR is more confident in the label; swapped it is the opposite
    swapped = inputs([[LN3, 0.0]], [[0.0, 0.0]], [0])
    assert CEGap()(swapped).item() == pytest.approx(math.log(2) - math.log(4 / 3))


def test_kl_value_at_temperature_one() -> None:
    batch = inputs([[0.0, 0.0], [LN3, 0.0]], [[LN3, 0.0], [LN3, 0.0]], [0, 0])
    # KL([½,½] ‖ [¾,¼]) = ½ ln(⅔) + ½ ln 2 for the first image, 0 for the second; mean over the batch
    expected = (0.5 * math.log(2 / 3) + 0.5 * math.log(2)) / 2
    assert KLDivergence(1.0)(batch).item() == pytest.approx(expected)


def test_kl_temperature_scales_logits_and_result() -> None:
    t = 2.0
    batch = inputs([[0.0, 0.0]], [[LN3, 0.0]], [0])
    q0 = math.exp(LN3 / t) / (math.exp(LN3 / t) + 1)
    expected = t * t * (0.5 * math.log(0.5 / q0) + 0.5 * math.log(0.5 / (1 - q0)))
    loss = build_kl(KLConfig(type="kl", temperature=t))
    assert loss(batch).item() == pytest.approx(expected)
    assert loss(batch).item() != pytest.approx(KLDivergence(1.0)(batch).item())


def test_kl_direction_is_original_to_sr() -> None:
    batch = inputs([[0.0, 0.0]], [[LN3, 0.0]], [0])
    # KL(p_hr ‖ p_sr), not KL(p_sr ‖ p_hr) = ¾ ln(3/2) + ¼ ln(½)
    assert KLDivergence(1.0)(batch).item() == pytest.approx(0.5 * math.log(4 / 3))
    assert KLDivergence(1.0)(batch).item() != pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5))


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0])
def test_kl_is_zero_for_identical_logits(temperature: float) -> None:
    logits = [[1.0, -2.0, 0.5], [3.0, 3.0, 0.0]]
    assert KLDivergence(temperature)(inputs(logits, logits, [0, 1])).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("loss", [LogitMSE(), CEGap(), KLDivergence(1.0)])
def test_logit_losses_need_the_teacher(loss: Loss) -> None:
    assert loss.needs_teacher
    with pytest.raises(RuntimeError, match="teacher logits are missing"):
        loss(LossInputs(torch.zeros(1), torch.zeros(1), torch.zeros(1, dtype=torch.long)))
