"""Per-class numbers on hand-made predictions."""

from __future__ import annotations

import math

import pytest
import torch

from srdistill.reporting.analysis import class_stats, ranked


def test_class_stats_by_hand() -> None:
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    preds = torch.tensor([0, 0, 1, 1, 0, 1])
    s = class_stats(labels, preds, 4)
    # class 0: 2 of 3 right, predicted 3 times (2 right); class 1: 1 of 2, predicted 3 times; class 2: 0 of 1
    assert s.accuracy[:3].tolist() == pytest.approx([2 / 3, 1 / 2, 0.0])
    assert s.precision[:3].tolist() == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert s.f1[0].item() == pytest.approx(2 / 3)
    assert s.f1[1].item() == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert s.f1[2].item() == 0.0
    assert math.isnan(s.accuracy[3].item()) and s.support.tolist() == [3, 2, 1, 0]


def test_ranked_skips_missing_classes() -> None:
    values = torch.tensor([0.5, float("nan"), -0.2, 0.9])
    assert ranked(values, 2, largest=True) == [3, 0]
    assert ranked(values, 5, largest=False) == [2, 0, 3]


def test_gains_and_losses_hold_only_classes_that_changed() -> None:
    from srdistill.reporting.analysis import gains_and_losses

    change = torch.tensor([0.0, -0.3, 0.2, float("nan"), -0.1, 0.0, 0.5])
    lost, gained = gains_and_losses(change, 10)
    assert lost == [1, 4] and gained == [6, 2]
    assert gains_and_losses(torch.zeros(5), 3) == ([], [])
    assert gains_and_losses(change, 1) == ([1], [6])
