"""The recovered fraction: one formula, one rule for a gap too small to divide by."""

from __future__ import annotations

import math

import pytest

from srdistill.methods import MIN_GAP, percent, recovered


def test_recovered_is_the_share_of_the_lost_top1_won_back() -> None:
    assert recovered(0.7, bicubic=0.4, original=0.8) == pytest.approx(0.75)
    assert recovered(0.4, 0.4, 0.8) == 0.0 and recovered(0.8, 0.4, 0.8) == 1.0
    assert recovered(0.3, 0.4, 0.8) == pytest.approx(-0.25)  # worse than bicubic


@pytest.mark.parametrize("original", [0.5, 0.5 + MIN_GAP / 2, 0.5 - MIN_GAP / 2])
def test_a_gap_too_small_gives_no_fraction(original: float) -> None:
    assert math.isnan(recovered(0.6, bicubic=0.5, original=original))
    assert percent(recovered(0.6, 0.5, original)) == "–"


def test_a_missing_value_gives_no_fraction() -> None:
    assert math.isnan(recovered(math.nan, 0.4, 0.8)) and math.isnan(recovered(0.5, math.nan, 0.8))


def test_percent() -> None:
    assert percent(0.8404) == "84%" and percent(0.8404, 1) == "84.0%" and percent(-0.25) == "-25%"
