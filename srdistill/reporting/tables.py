"""``compare``'s output: the teacher's table, the judges matrix and the JSON that holds both."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table

from srdistill.engine.compare import RouteRow, recovered_by_row, trained_rows
from srdistill.engine.evaluate import Row
from srdistill.methods import percent


def _clean(v: float) -> float | None:
    return v if math.isfinite(v) else None


def rows_to_json(
    rows: list[Row], judges: dict[str, dict[str, Row]] | None = None, routes: list[RouteRow] | None = None
) -> dict[str, Any]:
    """``{"rows": [{"method", <metrics>, "images_per_s", "seconds"}, ...], "recovered_top1": {...},
    "judges": {judge: {method: {<judge metrics>, "recovered"}}}, "routes": [{"route", "sr", "classifier",
    "top1", "recovered", "top1_original", "psnr", "ssim", "psnr_y", "train_seconds"}]}``; non-finite values become
    null."""
    out = []
    for r in rows:
        item: dict[str, Any] = {"method": r.method}
        item |= {k: _clean(v) for k, v in r.metrics.items()}
        item |= {"images_per_s": _clean(r.images_per_s), "seconds": _clean(r.seconds)}
        out.append(item)
    judged: dict[str, dict[str, Any]] = {}
    for judge, by in (judges or {}).items():
        fractions = recovered_by_row(by)
        judged[judge] = {
            method: {k: _clean(v) for k, v in row.metrics.items()}
            | {"recovered": _clean(fractions.get(method, math.nan))}
            for method, row in by.items()
        }
    fractions = trained_rows(recovered_by_row({r.method: r for r in rows}))
    routed = [{k: _clean(v) if isinstance(v, float) else v for k, v in vars(r).items()} for r in routes or []]
    return {"rows": out, "recovered_top1": {k: _clean(v) for k, v in fractions.items()}, "judges": judged,
            "routes": routed}  # fmt: skip


def routes_table(routes: list[RouteRow], title: str) -> Table:
    """One row per route: the SR it reads, its classifier, top-1 (and recovered), on originals, PSNR, cost."""
    caption = "recovered: (top-1 − teacher on bicubic)/(teacher on originals − teacher on bicubic)"
    table = Table(title=title, title_justify="left", caption=caption)
    for col in ("route", "SR", "classifier", "top1", "recovered", "top1 on originals", "psnr", "ssim", "train s"):
        table.add_column(col, justify="left" if col in ("route", "SR", "classifier") else "right")
    for r in routes:
        seconds = "–" if r.train_seconds is None else f"{r.train_seconds:,.0f}"
        table.add_row(r.route, r.sr, _short(r.classifier), f"{r.top1:.4f}", percent(r.recovered, 1),
                      f"{r.top1_original:.4f}", _cell(r.psnr), _cell(r.ssim), seconds)  # fmt: skip
    return table


def _short(path: str) -> str:
    """A classifier's file as its run folder and name (runs/x/classifier_best.safetensors → x/classifier_best)."""
    if path == "teacher":
        return path
    parts = path.replace("\\", "/").rsplit("/", 2)
    return "/".join(parts[-2:]).removesuffix(".safetensors")


#: what each image-quality column measures, said under the table where it appears
PSNR_CAPTIONS = {
    "psnr": "psnr, ssim: every channel of the whole image",
    "psnr_y": "psnr_y, ssim_y: the Y channel, a border of the SR factor cropped (the SR literature's)",
}


def rows_table(rows: list[Row], title: str) -> Table:
    metrics = list(rows[0].metrics) if rows else []
    table = Table(title=title, title_justify="left")
    table.caption = "; ".join(text for name, text in PSNR_CAPTIONS.items() if name in metrics) or None
    table.add_column("method", style="bold")
    for m in [*metrics, "images/s", "seconds"]:
        table.add_column(m, justify="right")
    for r in rows:
        values = [_cell(r.metrics[m]) for m in metrics]
        table.add_row(r.method, *values, f"{r.images_per_s:,.0f}", f"{r.seconds:.1f}")
    return table


def recovered_lines(rows: list[Row]) -> list[str]:
    """One line per trained row: the share of bicubic's top-1 loss it wins back ("–" where the gap is too small)."""
    return [
        f"{method}: recovers {percent(fraction, 1)} of the top-1 lost by bicubic (SR − bicubic)/(original − bicubic)"
        for method, fraction in trained_rows(recovered_by_row({r.method: r for r in rows})).items()
    ]


def judges_table(judges: dict[str, dict[str, Row]], title: str) -> Table:
    """Methods down, judges across; each cell top-1 and, in brackets, the recovered fraction."""
    table = Table(title=title, title_justify="left", caption="top-1 (recovered: (SR − bicubic)/(original − bicubic))")
    table.add_column("method", style="bold")
    fractions = {judge: recovered_by_row(rows) for judge, rows in judges.items()}
    for judge in judges:
        table.add_column(judge, justify="right")
    methods = list(next(iter(judges.values()))) if judges else []
    for method in methods:
        cells = [f"{judges[j][method].metrics['top1']:.4f}" + _bracket(fractions[j].get(method)) for j in judges]
        table.add_row(method, *cells)
    return table


def _bracket(fraction: float | None) -> str:
    return "" if fraction is None else f" ({percent(fraction)})"


def _cell(v: float) -> str:
    if math.isinf(v):
        return "∞"
    return f"{v:.4f}"
