"""The weighted sum a recipe's losses list becomes."""

from __future__ import annotations

import pytest
import torch

from srdistill.engine.build import build_loss
from srdistill.losses.base import LossInputs, WeightedSum
from srdistill.losses.logits import KLConfig, KLDivergence, LogitMSE, LogitMSEConfig
from srdistill.losses.pixel import PixelL1, PixelL1Config


def batch() -> LossInputs:
    torch.manual_seed(0)
    hr, sr = torch.rand(2, 1, 6, 6), torch.rand(2, 1, 6, 6, requires_grad=True)
    return LossInputs(hr, sr, torch.tensor([0, 1]), torch.randn(2, 3), torch.randn(2, 3, requires_grad=True))


def test_total_is_the_weighted_sum_of_the_terms() -> None:
    inputs = batch()
    total = WeightedSum([("mse", 2.0, LogitMSE()), ("l1", 0.5, PixelL1()), ("kl", 0.0, KLDivergence(2.0))])
    out = total(inputs)
    assert list(out) == ["mse", "l1", "kl", "loss"]
    assert out["mse"].item() == pytest.approx(LogitMSE()(inputs).item())
    assert out["l1"].item() == pytest.approx(PixelL1()(inputs).item())
    assert out["kl"].item() == pytest.approx(KLDivergence(2.0)(inputs).item())
    assert out["loss"].item() == pytest.approx(2.0 * out["mse"].item() + 0.5 * out["l1"].item())
    # the terms are for logging; only the total carries the graph
    assert not out["mse"].requires_grad and out["loss"].requires_grad
    out["loss"].backward()
    assert inputs.sr.grad is not None and inputs.sr_logits.grad is not None


def test_needs_teacher_if_any_term_does() -> None:
    assert not WeightedSum([("l1", 1.0, PixelL1())]).needs_teacher
    assert WeightedSum([("l1", 1.0, PixelL1()), ("mse", 1.0, LogitMSE())]).needs_teacher


def test_pixel_only_sum_works_without_logits() -> None:
    hr = torch.rand(1, 1, 4, 4)
    out = WeightedSum([("l1", 3.0, PixelL1())])(LossInputs(hr, hr + 0.25, torch.tensor([0])))
    assert out["loss"].item() == pytest.approx(0.75)


def test_build_loss_names_and_weights() -> None:
    total = build_loss(
        [
            LogitMSEConfig(type="logit_mse"),
            PixelL1Config(type="pixel_l1", weight=0.25),
            LogitMSEConfig(type="logit_mse", weight=3.0),
            KLConfig(type="kl", temperature=4.0),
        ]
    )
    assert total is not None
    assert total.names == ["logit_mse", "pixel_l1", "logit_mse_2", "kl"]
    assert total.weights == [1.0, 0.25, 3.0, 1.0]
    assert isinstance(total.losses[3], KLDivergence) and total.losses[3].temperature == 4.0
    assert build_loss([]) is None


def test_pixel_terms_keep_the_terms_that_read_no_classifier() -> None:
    total = WeightedSum([("mse", 2.0, LogitMSE()), ("l1", 0.5, PixelL1())])
    pixels = total.pixel_terms()
    assert pixels is not None and pixels.names == ["l1"] and pixels.weights == [0.5]
    assert WeightedSum([("mse", 1.0, LogitMSE())]).pixel_terms() is None
    assert WeightedSum([("mse", 1.0, LogitMSE()), ("l1", 0.0, PixelL1())]).pixel_terms() is None
