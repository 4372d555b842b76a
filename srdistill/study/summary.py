"""The end of a study: its seeds' compares read back, summarised, shown and written to the study folder."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from srdistill.checkpoints import write_json, write_text
from srdistill.errors import UserError
from srdistill.study.execute import compare_path
from srdistill.study.layout import Layout
from srdistill.study.report import html_page, markdown, pareto_picture, rich_table, to_json
from srdistill.study.results import collect, judged, original_of, recommend

RESULTS_FILE = "results.json"
TABLE_FILE = "routes.md"
PICTURE_FILE = "pareto.png"
PAGE_FILE = "report.html"


def summarise(layout: Layout, console: Console, json_path: Path | None = None) -> dict[str, object]:
    """Read every seed's compare, then print and write the table, the recommendation, the picture and the page."""
    per_seed = []
    for seed in layout.study.seeds:
        path = compare_path(layout, seed)
        try:
            per_seed.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            raise UserError(
                f"{path} is missing or unreadable.", "Rerun the study: it compares that seed again."
            ) from None
    results = collect(layout.rows, per_seed)
    picks = recommend(results, original_of(per_seed), layout.study.full_size_tolerance)
    by_judge = judged(results, per_seed)
    folder = layout.study.folder
    data = to_json(layout, results, picks, by_judge)
    for path in (folder / RESULTS_FILE, *([json_path] if json_path is not None else [])):
        write_json(path, data)
    text = markdown(layout, results, picks, by_judge)
    write_text(folder / TABLE_FILE, text)
    picture = pareto_picture(results, folder / PICTURE_FILE, f"{layout.study.name}: top-1 against training cost")
    write_text(folder / PAGE_FILE, html_page(layout, results, picks, picture, by_judge))
    console.print(
        rich_table(results, f"{layout.study.name}: routes over seeds {', '.join(map(str, layout.study.seeds))}")
    )
    for pick in picks:
        console.print(pick.line(), highlight=False)
    console.print(f"wrote {folder / TABLE_FILE}, {folder / RESULTS_FILE}, {picture} and {folder / PAGE_FILE}")
    return data
