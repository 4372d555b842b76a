"""Mean ± std over seeds, the spread rule, and the three-line recommendation."""

from __future__ import annotations

import math

import pytest

from srdistill.study.layout import Row
from srdistill.study.results import RouteResult, collect, differs, mean_std, pairs, recommend


def result(
    name: str,
    top1: list[float],
    on_originals: list[float] | None = None,
    reads: str = "own classifier",
    kind: str = "lr_finetune",
) -> RouteResult:
    values = {"top1": top1, "top1_original": on_originals or [0.9] * len(top1)}
    return RouteResult(Row(name, name, reads, kind, 0, 0), values)  # type: ignore[arg-type]


def test_mean_and_sample_std() -> None:
    assert mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert math.isnan(mean_std([0.5])[1])  # one seed: no spread
    assert all(math.isnan(v) for v in mean_std([1.0, None]))  # a missing seed is not averaged away


def test_the_spread_rule() -> None:
    assert differs([0.90, 0.91], [0.80, 0.81])
    assert not differs([0.90, 0.92], [0.89, 0.91])  # gap 0.01 < the stds added
    assert not differs([0.9], [0.1])  # one seed establishes nothing


def test_pairs_put_the_better_first() -> None:
    [pair] = pairs([result("a", [0.5, 0.6]), result("b", [0.8, 0.81])])
    assert (pair["better"], pair["worse"], pair["beyond_spread"]) == ("b", "a", True)
    assert pair["gap_points"] == pytest.approx(25.5)


def test_recommendation_lines_and_their_margins() -> None:
    original = [0.90, 0.91]
    results = [
        result("original", original, original, "original classifier", "original"),
        result("bicubic", [0.70, 0.71], original, "original classifier", "bicubic"),
        result("darionet", [0.85, 0.86], original, "original classifier", "darionet"),
        result("lr_finetune", [0.87, 0.88], [0.70, 0.72]),  # forgets the originals
        result("lr_mixed", [0.865, 0.875], [0.895, 0.905]),
    ]
    best, unchanged, serves = recommend(results, original)
    assert (best.best, best.runner_up, best.established) == ("lr_finetune", "lr_mixed", False)
    assert "within the spread: not established" in best.line() and "+0.50 points" in best.line()
    assert (unchanged.best, unchanged.runner_up, unchanged.established) == ("darionet", "bicubic", True)
    assert "more than the spread" in unchanged.line()
    assert (serves.best, serves.runner_up) == ("lr_mixed", "darionet")  # lr_finetune falls on the originals


def test_with_one_qualifying_route_or_none() -> None:
    lone = [result("original", [0.9], [0.9], "original classifier", "original"), result("f", [0.8], [0.5])]
    best, unchanged, serves = recommend(lone, [0.9])
    assert best.best == "f" and "the only route" in best.line()
    assert unchanged.best is None and "no route qualifies" in unchanged.line()
    assert serves.best is None  # it loses 40 points on the originals, more than the 1 allowed
    first = recommend([*lone, result("g", [0.7])], [0.9])[0]
    assert "one seed, so no spread: not established" in first.line()


def test_collect_reads_each_seeds_routes_by_row_name() -> None:
    row = Row("joint_sr", "joint_sr", "original classifier", "joint", 5, 1)
    seeds = [{"routes": [{"route": "joint_sr", "top1": 0.5 + s / 10, "psnr": 20.0}]} for s in range(2)]
    [got] = collect([row], seeds)
    assert got.values["top1"] == [0.5, 0.6] and got.values["psnr"] == [20.0, 20.0]
    assert got.values["recovered"] == [None, None]


def test_a_classifier_serves_full_size_images_within_the_tolerance() -> None:
    original = [0.90, 0.90]
    results = [result("near", [0.85, 0.85], [0.895, 0.895]), result("far", [0.86, 0.86], [0.87, 0.87])]
    assert recommend(results, original, tolerance=1.0)[2].best == "near"
    assert recommend(results, original, tolerance=5.0)[2].best == "far"
    assert "(within 5 points)" in recommend(results, original, tolerance=5.0)[2].question
