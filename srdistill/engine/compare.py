"""``srdistill compare``: the paper's Table 1 for a recipe's test split."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from srdistill.catalog import catalog
from srdistill.data.base import Splits, relabel
from srdistill.engine.build import check_paths, load_student_checkpoint, place
from srdistill.engine.evaluate import ORIGINAL, Row, evaluate
from srdistill.engine.runtime import configure, make_loader, seed_everything, select_device
from srdistill.recipe.schema import Recipe
from srdistill.students.base import SuperResolver
from srdistill.teachers.base import Teacher

BASELINES = ("bilinear", "bicubic")


@dataclass
class Contenders:
    """What a comparison runs: the test data, the frozen teacher, the degradation and every method."""

    device: torch.device
    data: Splits
    teacher: Teacher
    degradation: nn.Module
    methods: dict[str, SuperResolver]


def contenders(recipe: Recipe, console: Console | None = None) -> Contenders:
    """Build the teacher, the degradation, the baselines and each of ``recipe.compare.checkpoints``."""
    check_paths(recipe, checkpoints=True)
    seed_everything(recipe.seed)
    device = select_device(recipe.device)
    configure(recipe.runtime, device)
    cat = catalog()
    data = relabel(cat.datasets.build(recipe.data), getattr(recipe.data, "relabel", None))
    info = data.info
    teacher_cfg = recipe.teacher.model_dump()
    if console is not None and teacher_cfg.get("weights") is None and not teacher_cfg.get("pretrained"):
        console.print("[yellow]warning:[/] the teacher has no weights file: it is randomly initialised.")
    teacher = place(cat.teachers.build(recipe.teacher, info), recipe, device).freeze()
    degradation = cat.degradations.build(recipe.degradation).to(device)
    methods = {}
    for name in BASELINES:
        entry = cat.students.get(name)
        assert entry.config is not None
        methods[name] = entry.build(entry.config(type=name), info).to(device).eval()
    for ref in recipe.compare.checkpoints:
        methods[ref.name] = place(load_student_checkpoint(ref.path, info, recipe.student), recipe, device).eval()
    return Contenders(device, data, teacher, degradation, methods)


def compare(recipe: Recipe, console: Console) -> list[Row]:
    """Evaluate original, bilinear, bicubic and every checkpoint of ``recipe.compare`` on the test split."""
    parts = contenders(recipe, console)
    device, data, teacher, degradation, methods = (
        parts.device, parts.data, parts.teacher, parts.degradation, parts.methods
    )  # fmt: skip
    loader = make_loader(data.test, recipe.compare.batch_size, device=device, num_workers=recipe.compare.num_workers)
    console.print(f"compare on {len(data.test)} test images, {device}: {', '.join([ORIGINAL, *methods])}")
    rows = evaluate(
        loader,
        teacher,
        degradation,
        methods,
        recipe.compare.metrics,
        device,
        console,
        "compare",
        runtime=recipe.runtime,
    )
    return list(rows.values())


def recovered_top1(rows: list[Row]) -> dict[str, float]:
    """``(top1 − top1_bicubic) / (top1_original − top1_bicubic)`` for every non-baseline row."""
    by_name = {r.method: r.metrics.get("top1", math.nan) for r in rows}
    low, high = by_name.get("bicubic", math.nan), by_name.get(ORIGINAL, math.nan)
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
