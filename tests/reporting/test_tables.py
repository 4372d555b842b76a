"""compare's output: the teacher's table, the recovered lines, the judges matrix and the JSON."""

from __future__ import annotations

import math

from rich.console import Console

from srdistill.engine.evaluate import Row
from srdistill.reporting.tables import recovered_lines, rows_table, rows_to_json


def test_rows_to_json_writes_non_finite_as_null() -> None:
    rows = [
        Row("original", {"psnr": math.inf, "top1": 1.0}, seconds=2.0, images=10),
        Row("x", {"psnr": 20.0, "top1": 0.5}),
    ]
    data = rows_to_json(rows)
    assert data["rows"][0] == {
        "method": "original",
        "psnr": None,
        "top1": 1.0,
        "images_per_s": 5.0,
        "seconds": 2.0,
    }
    assert data["rows"][1]["images_per_s"] is None  # no time measured
    assert data["recovered_top1"] == {}  # no bicubic row to measure against


def test_rows_table() -> None:
    rows = [
        Row("original", {"psnr": math.inf, "top1": 1.0}, seconds=2.0, images=10),
        Row("bicubic", {"psnr": 20.0, "top1": 0.5}, 1.0, 10),
    ]
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(rows_table(rows, "my table"))
    text = console.export_text()
    assert "my table" in text and "∞" in text and "20.0000" in text and "0.5000" in text
    assert "psnr, ssim: every channel of the whole image" in " ".join(text.split()) and "psnr_y" not in text


def test_the_table_says_which_psnr_each_column_is() -> None:
    rows = [Row("bicubic", {"psnr": 20.0, "psnr_y": 21.5}, 1.0, 10)]
    console = Console(width=300, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(rows_table(rows, "t"))
    text = " ".join(console.export_text().split())  # the caption wraps to the table's width
    assert "psnr_y, ssim_y: the Y channel, a border of the SR factor cropped" in text


def test_recovered_lines_show_a_dash_never_nan_when_original_and_bicubic_tie() -> None:
    tie = [Row("original", {"top1": 0.5}), Row("bicubic", {"top1": 0.5}), Row("x", {"top1": 0.6})]
    assert recovered_lines(tie) == ["x: recovers – of the top-1 lost by bicubic (SR − bicubic)/(original − bicubic)"]
    assert rows_to_json(tie)["recovered_top1"] == {"x": None}
    gap = [Row("original", {"top1": 0.9}), Row("bicubic", {"top1": 0.5}), Row("x", {"top1": 0.8})]
    assert recovered_lines(gap)[0].startswith("x: recovers 75.0% of the top-1")
