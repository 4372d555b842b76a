"""The rows every comparison has besides the trained students, and the fraction measured against two of them."""

from __future__ import annotations

import math

#: the teacher on the original images: the reference every other row is measured against
ORIGINAL = "original"
#: plain interpolations (registered students of the same names), the rows SR has to beat
BASELINES = ("bilinear", "bicubic")
#: the baseline the recovered fraction (SR − bicubic) / (original − bicubic) is taken against
REFERENCE_BASELINE = "bicubic"
#: row names a checkpoint may not take
RESERVED = (ORIGINAL, *BASELINES)
#: below this top-1 gap (original − bicubic) a recovered fraction means nothing and is not given
MIN_GAP = 0.01


def recovered(top1: float, bicubic: float, original: float) -> float:
    """Of the top-1 bicubic loses, the fraction a row wins back: ``(top1 − bicubic) / (original − bicubic)``.

    NaN (shown "–", stored null) when the gap is below :data:`MIN_GAP` or a value is missing: a
    fraction of nearly nothing would be noise.
    """
    gap = original - bicubic
    if not math.isfinite(top1) or not abs(gap) >= MIN_GAP:
        return math.nan
    return (top1 - bicubic) / gap


def percent(fraction: float, digits: int = 0) -> str:
    """A recovered fraction for a table: ``84%``, or ``–`` where there is none."""
    return "–" if math.isnan(fraction) else f"{100 * fraction:.{digits}f}%"
