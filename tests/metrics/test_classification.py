"""Classification metrics of the teacher on SR images, and the accumulator all metrics share."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from srdistill.catalog import catalog
from srdistill.metrics.base import EvalBatch, Metric
from srdistill.metrics.classification import Agreement, CrossEntropy, LogitMSE, Top1, Top5

METRIC_NAMES = catalog().metrics.names()

# logits of 4 images over 6 classes; the labels rank 1st, 2nd, 6th and 2nd
LOGITS = torch.tensor(
    [
        [5.0, 1.0, 0.0, 0.0, 0.0, 0.0],
        [5.0, 4.0, 0.0, 0.0, 0.0, 0.0],
        [6.0, 5.0, 4.0, 3.0, 2.0, 1.0],
        [0.0, 3.0, 1.0, 4.0, 5.0, 0.0],
    ]
)
LABELS = torch.tensor([0, 1, 5, 3])
REF = torch.tensor(
    [
        [9.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # same top-1 (0)
        [0.0, 9.0, 0.0, 0.0, 0.0, 0.0],  # differs (1 vs 0)
        [9.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # same (0)
        [0.0, 0.0, 0.0, 0.0, 9.0, 0.0],  # same (4)
    ]
)


def batch(logits: torch.Tensor = LOGITS, labels: torch.Tensor = LABELS, ref: torch.Tensor = REF) -> EvalBatch:
    images = torch.zeros(len(labels), 1, 16, 16)
    return EvalBatch(images, images, labels, logits, ref)


def value(metric: Metric, *batches: EvalBatch) -> float:
    for b in batches:
        metric.update(b)
    return metric.compute()


def test_top1() -> None:
    assert value(Top1(), batch()) == pytest.approx(1 / 4)


def test_top5() -> None:
    assert value(Top5(), batch()) == pytest.approx(3 / 4)


def test_top5_with_fewer_than_five_classes() -> None:
    logits = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    assert value(Top5(), batch(logits, torch.tensor([0, 2]), logits)) == 1.0


def test_agreement() -> None:
    assert value(Agreement(), batch()) == pytest.approx(3 / 4)
    assert value(Agreement(), batch(ref=LOGITS)) == 1.0


def test_cross_entropy() -> None:
    expected = F.cross_entropy(LOGITS, LABELS).item()
    assert value(CrossEntropy(), batch()) == pytest.approx(expected)
    # hand value: uniform logits over 6 classes
    assert value(CrossEntropy(), batch(torch.zeros(4, 6))) == pytest.approx(math.log(6))


def test_logit_mse() -> None:
    ref = LOGITS + torch.tensor([[1.0], [2.0], [0.0], [3.0]])  # constant offsets per image
    assert value(LogitMSE(), batch(ref=ref)) == pytest.approx((1 + 4 + 0 + 9) / 4)
    assert value(LogitMSE(), batch(ref=LOGITS)) == 0.0


def test_better_direction() -> None:
    assert Top1.higher_is_better and Top5.higher_is_better and Agreement.higher_is_better
    assert not CrossEntropy.higher_is_better and not LogitMSE.higher_is_better


def test_average_over_images_not_batches() -> None:
    first = batch(LOGITS[:2], LABELS[:2], REF[:2])  # top-5: 2 of 2 correct
    second = batch(LOGITS[2:], LABELS[2:], REF[2:])  # top-5: 1 of 2 correct
    third = batch(LOGITS[3:], LABELS[3:], REF[3:])  # top-5: 1 of 1 correct
    assert value(Top5(), first, second) == pytest.approx(3 / 4)
    assert value(Top5(), second, third) == pytest.approx(2 / 3)  # not (1/2 + 1) / 2


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_every_metric_averages_over_images_across_updates(name: str, lpips_backbone) -> None:
    torch.manual_seed(0)
    n = 7
    hr = torch.rand(n, 3, 32, 32)  # lpips needs 31 pixels a side
    sr = (hr + 0.1 * torch.randn_like(hr)).clamp(0, 1)
    logits, ref, labels = torch.randn(n, 10), torch.randn(n, 10), torch.randint(0, 10, (n,))
    metric = catalog().metrics.get(name).build
    whole = value(metric(), EvalBatch(hr, sr, labels, logits, ref))
    parts = [slice(0, 1), slice(1, 5), slice(5, 7)]
    split = value(metric(), *(EvalBatch(hr[s], sr[s], labels[s], logits[s], ref[s]) for s in parts))
    assert math.isfinite(whole)
    assert split == pytest.approx(whole, rel=1e-5)


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_every_metric_is_nan_before_any_update(name: str) -> None:
    metric = catalog().metrics.get(name).build()
    assert isinstance(metric, Metric)
    assert isinstance(metric.higher_is_better, bool)
    assert math.isnan(metric.compute())


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_every_metric_is_perfect_on_the_original(name: str, lpips_backbone) -> None:
    """The row "original" of compare: SR is HR itself and logits are the reference logits."""
    torch.manual_seed(0)
    hr = torch.rand(3, 1, 32, 32)
    logits = torch.randn(3, 4)
    labels = logits.argmax(dim=1)
    result = value(catalog().metrics.get(name).build(), EvalBatch(hr, hr, labels, logits, logits))
    perfect = {
        **{"top1": 1.0, "top5": 1.0, "agreement": 1.0, "logit_mse": 0.0},
        **{"psnr": math.inf, "ssim": 1.0, "psnr_y": math.inf, "ssim_y": 1.0, "lpips": 0.0},
    }
    if name in perfect:
        assert result == pytest.approx(perfect[name])
    else:
        assert math.isfinite(result)


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_images_without_labels_count_only_for_label_free_metrics(name: str, lpips_backbone) -> None:
    """NO_LABEL (-1) images, e.g. a photo folder's: label metrics skip them, the others see every image."""
    from srdistill.data.base import NO_LABEL

    hr = torch.rand(4, 3, 32, 32)  # lpips needs 31 pixels a side
    sr = (hr + 0.1 * torch.rand(4, 3, 32, 32)).clamp(0, 1)
    mixed = torch.tensor([0, NO_LABEL, 5, NO_LABEL])
    full, partial, none = (catalog().metrics.get(name).build() for _ in range(3))
    full.update(EvalBatch(hr[[0, 2]], sr[[0, 2]], LABELS[[0, 2]], LOGITS[[0, 2]], REF[[0, 2]]))
    partial.update(EvalBatch(hr, sr, mixed, LOGITS, REF))
    none.update(EvalBatch(hr, sr, torch.full((4,), NO_LABEL), LOGITS, REF))
    if partial.needs_labels:
        assert partial.compute() == pytest.approx(full.compute()) and math.isnan(none.compute())
    else:
        assert math.isfinite(none.compute()) and none.compute() == pytest.approx(partial.compute())
