"""``srdistill compare``: the paper's Table 1 for a recipe's test split, and the judges matrix.

The tables and JSON are in :mod:`srdistill.reporting.tables`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from srdistill.engine.build import build
from srdistill.engine.evaluate import Row, evaluate, label_free
from srdistill.engine.loaders import make_loader
from srdistill.methods import BASELINES, ORIGINAL, REFERENCE_BASELINE, recovered
from srdistill.recipe.schema import Recipe


@dataclass(kw_only=True)
class RouteRow:
    """A route to recognition: an SR row read by a classifier, what it scores and what it cost."""

    route: str
    sr: str
    classifier: str  # "teacher", or the file of the route's own classifier
    top1: float
    recovered: float  # of the top-1 bicubic loses under the teacher (srdistill.methods.recovered)
    top1_original: float  # the classifier on the originals
    psnr: float
    psnr_y: float  # the SR literature's (Y channel, the border cropped); NaN where compare.metrics leaves it out
    ssim: float
    train_seconds: float | None  # of the runs that made its files; None where no run records them


@dataclass
class Comparison:
    """The teacher's rows, each judge's rows by method (judge -> method -> row), and the routes (the teacher's
    rows as routes, then ``compare.routes``)."""

    rows: list[Row]
    judges: dict[str, dict[str, Row]] = field(default_factory=dict)
    routes: list[RouteRow] = field(default_factory=list)


def compare(recipe: Recipe, console: Console) -> Comparison:
    """Evaluate original, the baselines and every checkpoint of ``recipe.compare`` on the test split,
    through the teacher and every judge in the same pass."""
    parts = build(recipe, "evaluate")
    if recipe.teacher.random_init():
        console.print("[yellow]warning:[/] the teacher has no weights file: it is randomly initialised.")
    for warning in parts.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
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
        + (f"; routes {', '.join(parts.routes)}" if parts.routes else "")
    )
    reads = {r.name: [r.sr] for r in cfg.routes}
    done = evaluate(loader, parts.teacher, parts.degradation, parts.methods, metrics, parts.device, console,
                    "compare", runtime=recipe.runtime, labels=labels, classifiers=parts.judges | parts.routes,
                    reads=reads)  # fmt: skip
    judges = {name: rows for name, rows in done.classifiers.items() if name in parts.judges}
    routes = route_rows(recipe, done.rows, done.classifiers)  # the teacher's rows are routes too
    return Comparison(list(done.rows.values()), judges, routes)


def route_rows(recipe: Recipe, rows: dict[str, Row], classifiers: dict[str, dict[str, Row]]) -> list[RouteRow]:
    """The teacher's rows and every route of ``recipe.compare.routes``, as routes to recognition."""
    top1 = {name: row.metrics.get("top1", math.nan) for name, row in rows.items()}
    low, high = top1.get(REFERENCE_BASELINE, math.nan), top1.get(ORIGINAL, math.nan)
    files = {ref.name: ref.path for ref in recipe.compare.checkpoints if isinstance(ref.path, Path)}
    costs = {ref.name: ref.runs or [files[ref.name].parent] for ref in recipe.compare.checkpoints if ref.name in files}

    def route(name: str, sr: str, classifier: str, by: dict[str, Row], runs: list[Path]) -> RouteRow:
        value = by[sr].metrics.get("top1", math.nan)
        return RouteRow(route=name, sr=sr, classifier=classifier, top1=value, recovered=recovered(value, low, high),
                        top1_original=by[ORIGINAL].metrics.get("top1", math.nan),
                        psnr=rows[sr].metrics.get("psnr", math.nan), ssim=rows[sr].metrics.get("ssim", math.nan),
                        psnr_y=rows[sr].metrics.get("psnr_y", math.nan),
                        train_seconds=train_seconds(runs))  # fmt: skip

    out = [route(name, name, "teacher", rows, costs.get(name, [])) for name in rows]
    for r in recipe.compare.routes:
        runs = r.runs or list(dict.fromkeys([*costs.get(r.sr, []), r.classifier.parent]))
        out.append(route(r.name, r.sr, str(r.classifier), classifiers[r.name], runs))
    return out


def train_seconds(runs: list[Path]) -> float | None:
    """The train seconds the runs' summaries record, added up; None where one records none."""
    from srdistill.engine.runs import SUMMARY_FILE

    total = 0.0
    for run in runs:
        try:
            total += float(json.loads((run / SUMMARY_FILE).read_text(encoding="utf-8"))["train_seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return total


def recovered_by_row(rows: dict[str, Row]) -> dict[str, float]:
    """One classifier's recovered fraction of top-1 (:func:`srdistill.methods.recovered`) for every
    row; empty without top-1 (no labels)."""
    top1 = {name: row.metrics["top1"] for name, row in rows.items() if "top1" in row.metrics}
    if ORIGINAL not in top1 or REFERENCE_BASELINE not in top1:
        return {}
    low, high = top1[REFERENCE_BASELINE], top1[ORIGINAL]
    return {name: recovered(value, low, high) for name, value in top1.items()}


def trained_rows(fractions: dict[str, float]) -> dict[str, float]:
    """``fractions`` without the original and the baselines (whose fractions are fixed or trivial)."""
    return {name: f for name, f in fractions.items() if name not in (ORIGINAL, *BASELINES)}
