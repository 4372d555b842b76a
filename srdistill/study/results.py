"""A study's numbers over its seeds: mean ± sample std per route, which gaps exceed the spread, and the
three-line recommendation.

The spread rule (the README's claims follow it): two rows differ when the gap of their means exceeds
the sum of their two sample standard deviations. With one seed there is no spread, and no gap is
established.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from srdistill.study.layout import Row

#: the per-seed values a route row keeps, from compare's routes table
METRICS = ("top1", "recovered", "top1_original", "psnr_y", "psnr", "ssim", "train_seconds")
ORIGINAL = "original"


def mean_std(values: Sequence[float | None]) -> tuple[float, float]:
    """Mean and sample standard deviation; NaN where a value is missing, std NaN for one value."""
    clean = [v for v in values if v is not None and math.isfinite(v)]
    if len(clean) < len(values) or not clean:
        return math.nan, math.nan
    return statistics.fmean(clean), statistics.stdev(clean) if len(clean) > 1 else math.nan


def differs(a: Sequence[float | None], b: Sequence[float | None]) -> bool:
    """Whether the gap of the means exceeds the two standard deviations added (False with one seed)."""
    (ma, sa), (mb, sb) = mean_std(a), mean_std(b)
    return abs(ma - mb) > sa + sb  # NaN compares False: one seed establishes nothing


@dataclass(frozen=True)
class RouteResult:
    """One row of the table: its description and its per-seed values."""

    row: Row
    values: dict[str, list[float | None]]  # metric -> one value per seed

    def mean(self, metric: str) -> float:
        return mean_std(self.values[metric])[0]


def collect(rows: list[Row], per_seed: list[dict[str, Any]]) -> list[RouteResult]:
    """Each row's values from each seed's compare JSON (its ``routes`` list)."""
    results = []
    for row in rows:
        values: dict[str, list[float | None]] = {m: [] for m in METRICS}
        for compared in per_seed:
            found = {r["route"]: r for r in compared["routes"]}[row.compared_as]
            for metric in METRICS:
                values[metric].append(found.get(metric))
        results.append(RouteResult(row, values))
    return results


def original_of(per_seed: list[dict[str, Any]]) -> list[float | None]:
    """The base classifier's top-1 on the originals, per seed (the ceiling every route is measured against)."""
    return [{r["route"]: r for r in compared["routes"]}[ORIGINAL]["top1"] for compared in per_seed]


def pairs(results: list[RouteResult]) -> list[dict[str, Any]]:
    """Every pair of rows (the better first by mean top-1): the gap in points and whether it exceeds the spread."""
    out = []
    for i, a in enumerate(results):
        for b in results[i + 1 :]:
            hi, lo = (a, b) if a.mean("top1") >= b.mean("top1") else (b, a)
            gap = (hi.mean("top1") - lo.mean("top1")) * 100
            out.append(
                {
                    "better": hi.row.name,
                    "worse": lo.row.name,
                    "gap_points": _clean(gap),
                    "beyond_spread": differs(hi.values["top1"], lo.values["top1"]),
                }
            )
    return out


@dataclass(frozen=True)
class Pick:
    """One line of the recommendation: the question, the best row and its margin over the runner-up."""

    question: str
    best: str | None
    runner_up: str | None
    gap_points: float
    established: bool
    seeds: int = 0

    def line(self) -> str:
        if self.best is None:
            return f"{self.question}: no route qualifies."
        if self.runner_up is None:
            return f"{self.question}: {self.best} (the only route that qualifies)."
        if self.established:
            verdict = "more than the spread"
        elif self.seeds < 2:
            verdict = "one seed, so no spread: not established"
        else:
            verdict = "within the spread: not established"
        return (
            f"{self.question}: {self.best}, {self.gap_points:+.2f} points of top-1 over {self.runner_up} ({verdict})."
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "best": self.best,
            "runner_up": self.runner_up,
            "gap_points": _clean(self.gap_points),
            "established": self.established,
            "line": self.line(),
        }


def pick(question: str, candidates: list[RouteResult]) -> Pick:
    ranked = sorted(candidates, key=lambda r: -_or_low(r.mean("top1")))
    if not ranked:
        return Pick(question, None, None, math.nan, False)
    if len(ranked) == 1:
        return Pick(question, ranked[0].row.name, None, math.nan, False)
    best, second = ranked[0], ranked[1]
    gap = (best.mean("top1") - second.mean("top1")) * 100
    established = differs(best.values["top1"], second.values["top1"])
    return Pick(question, best.row.name, second.row.name, gap, established, len(best.values["top1"]))


def recommend(results: list[RouteResult], original: list[float | None], tolerance: float = 1.0) -> list[Pick]:
    """The best route at this budget; the best that keeps the classifier as it is; the best whose classifier
    still serves full-size images: its top-1 on originals at most ``tolerance`` points below the original's."""
    routes = [r for r in results if r.row.kind != ORIGINAL]
    unchanged = [r for r in routes if r.row.reads == "original classifier"]
    ceiling = mean_std(original)[0]
    serves = [r for r in routes if r.mean("top1_original") >= ceiling - tolerance / 100]
    return [
        pick("Best route at this budget", routes),
        pick("Best if the classifier must stay as it is", unchanged),
        pick(f"Best if one classifier must also serve full-size images (within {_points(tolerance)})", serves),
    ]


def _or_low(v: float) -> float:
    return v if math.isfinite(v) else -math.inf


def _clean(v: float) -> float | None:
    return v if math.isfinite(v) else None


def judged(results: list[RouteResult], per_seed: list[dict[str, Any]]) -> dict[str, list[RouteResult]]:
    """Each judge's top-1 of every row the original classifier reads (the SR rows and baselines), per seed."""
    names = list(per_seed[0].get("judges", {})) if per_seed else []
    out: dict[str, list[RouteResult]] = {}
    for judge in names:
        out[judge] = []
        for r in results:
            if r.row.reads != "original classifier":
                continue
            top1 = [compared["judges"][judge].get(r.row.compared_as, {}).get("top1") for compared in per_seed]
            out[judge].append(RouteResult(r.row, {"top1": top1}))
    return out


def _points(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")
