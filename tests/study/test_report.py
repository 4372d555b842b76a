"""What a study shows: the Pareto front, the Markdown and HTML tables, the picture and the JSON."""

from __future__ import annotations

import pytest

from srdistill.study.layout import lay_out
from srdistill.study.report import html_page, markdown, pareto_front, pareto_picture, shown, to_json
from srdistill.study.results import RouteResult, recommend
from srdistill.study.schema import load_study
from tests.study.conftest import TINY


def test_the_pareto_front_keeps_the_points_nothing_beats_on_both() -> None:
    points = [
        (0.0, 70.0, "bicubic"),
        (1.0, 88.0, "finetune"),
        (5.0, 85.0, "pixel"),
        (20.0, 89.0, "joint"),
        (21.0, 89.0, "joint2"),
        (0.0, 60.0, "worse"),
    ]
    assert [p[2] for p in pareto_front(points)] == ["bicubic", "finetune", "joint"]


def test_shown_is_mean_and_std_or_the_mean_alone() -> None:
    assert shown([0.8812, 0.8832], 100) == "88.22 ± 0.14"
    assert shown([0.5], 100) == "50.00" and shown([None], 100) == "–"


@pytest.fixture
def study(write_study):  # type: ignore[no-untyped-def]
    routes = [
        {"name": "original", "kind": "original"},
        {"name": "bicubic", "kind": "bicubic"},
        {"name": "lr_finetune", "kind": "lr_finetune", "set": TINY},
    ]
    layout = lay_out(load_study(write_study(routes=routes)))
    values = {
        "original": [0.90, 0.91],
        "bicubic": [0.70, 0.72],
        "lr_finetune": [0.86, 0.87],
    }
    results = [
        RouteResult(
            row,
            {
                "top1": values[row.name],
                "recovered": [None, None],
                "top1_original": [0.9, 0.91],
                "psnr": [20.0, 20.1],
                "psnr_y": [19.5, 19.6],
                "ssim": [0.5, 0.5],
                "train_seconds": [1.0, 2.0],
            },
        )
        for row in layout.rows
    ]
    return layout, results, recommend(results, values["original"])


def test_markdown_and_json_hold_every_row_the_budget_and_the_recommendation(study) -> None:
    layout, results, picks = study
    text = markdown(layout, results, picks, {})
    assert "| lr_finetune | own classifier | 86.50 ± 0.71 |" in text
    assert "Budget: each route at its recipe's epochs" in text
    assert (
        "- Best route at this budget: lr_finetune, +15.50 points of top-1 over bicubic (more than the spread)." in text
    )
    assert "- lr_finetune > bicubic: +15.50 points" in text
    data = to_json(layout, results, picks, {})
    assert data["epochs"] == {"lr_finetune": {"epochs": 2, "max_steps_per_epoch": 2}}
    assert data["rows"][2]["top1"] == {"mean": 0.865, "std": pytest.approx(0.00707, abs=1e-5), "per_seed": [0.86, 0.87]}


def test_the_picture_and_the_page(study, tmp_path) -> None:
    layout, results, picks = study
    picture = pareto_picture(results, tmp_path / "p.png", "tiny")
    assert picture.read_bytes()[:4] == b"\x89PNG"
    page = html_page(layout, results, picks, picture, {})
    assert page.count("<tr>") == 1 + len(results) and "Best route at this budget" in page
    assert not list(tmp_path.glob(".p.png.*"))  # written atomically: no temporary file left
