"""The rows every comparison has besides the trained students: one place for their names."""

from __future__ import annotations

#: the teacher on the original images: the reference every other row is measured against
ORIGINAL = "original"
#: plain interpolations (registered students of the same names), the rows SR has to beat
BASELINES = ("bilinear", "bicubic")
#: the baseline the recovered fraction (SR − bicubic) / (original − bicubic) is taken against
REFERENCE_BASELINE = "bicubic"
#: row names a checkpoint may not take
RESERVED = (ORIGINAL, *BASELINES)
