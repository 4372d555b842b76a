"""``srdistill compare``: the paper's Table 1 for a recipe's test split."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from srdistill.engine.build import build
from srdistill.engine.evaluate import Row, evaluate, label_free
from srdistill.engine.loaders import make_loader
from srdistill.methods import BASELINES, ORIGINAL, REFERENCE_BASELINE
from srdistill.recipe.schema import Recipe

#: below this top-1 gap (original − bicubic) a judge's recovered fraction means nothing and is not given
MIN_GAP = 0.01


@dataclass
class Comparison:
    """The teacher's rows, and each judge's rows by method (judge -> method -> row)."""

    rows: list[Row]
    judges: dict[str, dict[str, Row]] = field(default_factory=dict)


def compare(recipe: Recipe, console: Console) -> Comparison:
    """Evaluate original, the baselines and every checkpoint of ``recipe.compare`` on the test split,
    through the teacher and every judge in the same pass."""
    parts = build(recipe, "evaluate")
    if recipe.teacher.random_init():
        console.print("[yellow]warning:[/] the teacher has no weights file: it is randomly initialised.")
    cfg = recipe.compare
    labels = parts.teacher.outputs_classes and parts.data.info.labelled
    metrics = list(cfg.metrics) if labels else label_free(cfg.metrics)
    if len(metrics) < len(cfg.metrics):
        why = "the data set has no labels" if parts.teacher.outputs_classes else "the teacher outputs maps, not classes"
        left_out = ", ".join(m for m in cfg.metrics if m not in metrics)
        console.print(f"[yellow]note:[/] {why}: {left_out} left out; the label-free values remain.")
    loader = make_loader(parts.data.test, cfg.batch_size, device=parts.device, num_workers=cfg.num_workers)
    console.print(
        f"compare on {len(parts.data.test)} test images, {parts.device}: {', '.join([ORIGINAL, *parts.methods])}"
        + (f"; judges {', '.join(parts.judges)}" if parts.judges else "")
    )
    done = evaluate(loader, parts.teacher, parts.degradation, parts.methods, metrics, parts.device, console,
                    "compare", runtime=recipe.runtime, labels=labels, judges=parts.judges)  # fmt: skip
    return Comparison(list(done.rows.values()), done.judges)


def judge_recovered(rows: dict[str, Row]) -> dict[str, float]:
    """One judge's recovered fraction for every row (:func:`recovered_fractions` of its top-1s)."""
    return recovered_fractions({name: row.metrics["top1"] for name, row in rows.items()})


def recovered_fractions(top1: dict[str, float]) -> dict[str, float]:
    """``(top1 − top1_bicubic) / (top1_original − top1_bicubic)`` for every row; NaN where the gap is
    below :data:`MIN_GAP`."""
    low, high = top1[REFERENCE_BASELINE], top1[ORIGINAL]
    if not abs(high - low) >= MIN_GAP:
        return dict.fromkeys(top1, math.nan)
    return {name: (value - low) / (high - low) for name, value in top1.items()}


def judges_table(judges: dict[str, dict[str, Row]], title: str) -> Table:
    """Methods down, judges across; each cell top-1 and, in brackets, the recovered fraction."""
    table = Table(title=title, title_justify="left", caption="top-1 (recovered: (SR − bicubic)/(original − bicubic))")
    table.add_column("method", style="bold")
    recovered = {judge: judge_recovered(rows) for judge, rows in judges.items()}
    for judge in judges:
        table.add_column(judge, justify="right")
    methods = list(next(iter(judges.values()))) if judges else []
    for method in methods:
        cells = [f"{judges[j][method].metrics['top1']:.4f} ({_percent(recovered[j][method])})" for j in judges]
        table.add_row(method, *cells)
    return table


def _percent(fraction: float) -> str:
    return "–" if math.isnan(fraction) else f"{100 * fraction:.0f}%"


def recovered_top1(rows: list[Row]) -> dict[str, float]:
    """``(top1 − top1_bicubic) / (top1_original − top1_bicubic)`` for every non-baseline row."""
    by_name = {r.method: r.metrics.get("top1", math.nan) for r in rows}
    low, high = by_name.get(REFERENCE_BASELINE, math.nan), by_name.get(ORIGINAL, math.nan)
    return {
        r.method: (r.metrics["top1"] - low) / (high - low) if high != low else math.nan
        for r in rows
        if r.method not in (ORIGINAL, *BASELINES) and "top1" in r.metrics
    }


def _clean(v: float) -> float | None:
    return v if math.isfinite(v) else None


def rows_to_json(rows: list[Row], judges: dict[str, dict[str, Row]] | None = None) -> dict[str, Any]:
    """``{"rows": [{"method", <metrics>, "images_per_s", "seconds"}, ...], "recovered_top1": {...},
    "judges": {judge: {method: {<judge metrics>, "recovered"}}}}``; non-finite values become null."""
    clean = _clean

    out = []
    for r in rows:
        item: dict[str, Any] = {"method": r.method}
        item |= {k: clean(v) for k, v in r.metrics.items()}
        item |= {"images_per_s": clean(r.images_per_s), "seconds": clean(r.seconds)}
        out.append(item)
    judged: dict[str, dict[str, Any]] = {}
    for judge, by in (judges or {}).items():
        recovered = judge_recovered(by)
        judged[judge] = {
            method: {k: clean(v) for k, v in row.metrics.items()} | {"recovered": clean(recovered[method])}
            for method, row in by.items()
        }
    return {"rows": out, "recovered_top1": {k: clean(v) for k, v in recovered_top1(rows).items()}, "judges": judged}


def rows_table(rows: list[Row], title: str) -> Table:
    metrics = list(rows[0].metrics) if rows else []
    table = Table(title=title, title_justify="left")
    table.add_column("method", style="bold")
    for m in [*metrics, "images/s", "seconds"]:
        table.add_column(m, justify="right")
    for r in rows:
        values = [_cell(r.metrics[m]) for m in metrics]
        table.add_row(r.method, *values, f"{r.images_per_s:,.0f}", f"{r.seconds:.1f}")
    return table


def _cell(v: float) -> str:
    if math.isinf(v):
        return "∞"
    return f"{v:.4f}"
