"""``srdistill compare``: the paper's Table 1 for a recipe's test split."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from srdistill.engine.build import build
from srdistill.engine.evaluate import Row, evaluate, label_free
from srdistill.engine.loaders import make_loader
from srdistill.methods import BASELINES, ORIGINAL, REFERENCE_BASELINE
from srdistill.recipe.schema import Recipe


def compare(recipe: Recipe, console: Console) -> list[Row]:
    """Evaluate original, the baselines and every checkpoint of ``recipe.compare`` on the test split."""
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
    )
    rows = evaluate(loader, parts.teacher, parts.degradation, parts.methods, metrics, parts.device, console,
                    "compare", runtime=recipe.runtime, labels=labels)  # fmt: skip
    return list(rows.values())


def recovered_top1(rows: list[Row]) -> dict[str, float]:
    """``(top1 − top1_bicubic) / (top1_original − top1_bicubic)`` for every non-baseline row."""
    by_name = {r.method: r.metrics.get("top1", math.nan) for r in rows}
    low, high = by_name.get(REFERENCE_BASELINE, math.nan), by_name.get(ORIGINAL, math.nan)
    return {
        r.method: (r.metrics["top1"] - low) / (high - low) if high != low else math.nan
        for r in rows
        if r.method not in (ORIGINAL, *BASELINES) and "top1" in r.metrics
    }


def rows_to_json(rows: list[Row]) -> dict[str, Any]:
    """``{"rows": [{"method", <metrics>, "images_per_s", "seconds"}, ...]}``; non-finite values become null."""

    def clean(v: float) -> float | None:
        return v if math.isfinite(v) else None

    out = []
    for r in rows:
        item: dict[str, Any] = {"method": r.method}
        item |= {k: clean(v) for k, v in r.metrics.items()}
        item |= {"images_per_s": clean(r.images_per_s), "seconds": clean(r.seconds)}
        out.append(item)
    return {"rows": out, "recovered_top1": {k: clean(v) for k, v in recovered_top1(rows).items()}}


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
