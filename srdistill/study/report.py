"""What a study shows: the route table, the pairs, the recommendation, its JSON, the Pareto picture of
top-1 against training TFLOP, and one self-contained HTML page."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

from rich.table import Table

from srdistill.study.layout import Layout
from srdistill.study.results import ORIGINAL, Pick, RouteResult, mean_std, pairs

PSNR_NOTE = "PSNR-Y: the Y channel, a border of the SR factor cropped, as the SR literature reports PSNR."
COLUMNS = (
    ("top1", "top-1 (%)", 100, 2),
    ("recovered", "recovered (%)", 100, 1),
    ("top1_original", "top-1 on originals (%)", 100, 2),
    ("psnr_y", "PSNR-Y (dB)", 1, 2),
)


def shown(values: list[float | None], scale: float = 1.0, digits: int = 2) -> str:
    """``mean ± std`` × ``scale``; the mean alone for one seed; ``–`` where a value is missing."""
    mean, std = mean_std(values)
    if math.isnan(mean):
        return "–"
    return f"{mean * scale:.{digits}f}" if math.isnan(std) else f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def cells(result: RouteResult) -> list[str]:
    """A row's cells: the route and what reads it, each metric, training TFLOP and seconds, inference GFLOP."""
    row = result.row
    out = [row.name, row.reads]
    out += [shown(result.values[key], scale, digits) for key, _, scale, digits in COLUMNS]
    out += [f"{row.flops / 1e12:.3g}", shown(result.values["train_seconds"], 1, 0), f"{row.inference_flops / 1e9:.3g}"]
    return out


HEADERS = ["route", "read by", *(title for _, title, _, _ in COLUMNS), "train TFLOP", "train s", "GFLOP/image"]


def rich_table(results: list[RouteResult], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if i < 2 else "right")
    for result in results:
        table.add_row(*cells(result))
    return table


def judges_table(results: list[RouteResult], by_judge: dict[str, list[RouteResult]]) -> list[list[str]]:
    """Header and rows: top-1 (%) of every row the original classifier reads, under it and under each judge."""
    out = [["row", "original classifier", *by_judge]]
    for r in results:
        if r.row.reads == "original classifier":
            under = [next(j for j in rows if j.row == r.row).values["top1"] for rows in by_judge.values()]
            out.append([r.row.name, shown(r.values["top1"], 100), *(shown(v, 100) for v in under)])
    return out


def judges_beyond(by_judge: dict[str, list[RouteResult]]) -> list[str]:
    """One line per judge: its gaps of top-1 larger than the spread."""
    lines = []
    for name, rows in by_judge.items():
        beyond = [p for p in pairs(rows) if p["beyond_spread"]]
        text = ", ".join(f"{p['better']} > {p['worse']} ({p['gap_points']:+.2f})" for p in beyond) or "none"
        lines.append(f"Under {name}, gaps larger than the spread: {text}.")
    return lines


def judges_markdown(results: list[RouteResult], by_judge: dict[str, list[RouteResult]]) -> list[str]:
    if not by_judge:
        return []
    header, *rows = judges_table(results, by_judge)
    lines = ["", "Top-1 (%) under the judges:", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, "", *(f"- {line}" for line in judges_beyond(by_judge))]


def markdown(
    layout: Layout, results: list[RouteResult], picks: list[Pick], by_judge: dict[str, list[RouteResult]]
) -> str:
    """The table, the budget, the recommendation and the pairs whose gap exceeds the spread, as Markdown."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in results]
    study = layout.study
    lines += ["", f"Seeds {', '.join(map(str, study.seeds))}; mean ± sample std. {budget_line(layout)} {PSNR_NOTE}", ""]
    lines += [f"- {p.line()}" for p in picks]
    beyond = [p for p in pairs(results) if p["beyond_spread"]]
    lines += [
        "",
        "Gaps of top-1 larger than the spread (the better first):"
        if beyond
        else "No gap of top-1 is larger than the spread.",
    ]
    lines += [f"- {p['better']} > {p['worse']}: {p['gap_points']:+.2f} points" for p in beyond]
    lines += judges_markdown(results, by_judge)
    return "\n".join(lines) + "\n"


def budget_line(layout: Layout) -> str:
    budget = layout.study.budget
    if budget.kind == "recipe":
        what = "each route at its recipe's epochs"
    elif budget.kind == "tflop":
        what = f"{budget.tflop:g} TFLOP of training per trained route"
    else:
        what = f"every trained route given the training FLOPs of {budget.route or 'the largest route'}"
    extra = ""
    if layout.apart:
        runs = ", ".join(f"{label} {cost.flops / 1e12:.3g}" for label, cost in layout.apart.items())
        extra = f" Shared by every route and listed apart, in TFLOP: {runs}."
    return f"Budget: {what}; a route's FLOPs include the run it starts from.{extra}"


def to_json(
    layout: Layout, results: list[RouteResult], picks: list[Pick], by_judge: dict[str, list[RouteResult]]
) -> dict[str, Any]:
    """Everything the study shows, per seed and summarised (non-finite values become null)."""
    rows = []
    for r in results:
        summary = {}
        for metric, values in r.values.items():
            summary[metric] = _summary(values)
        rows.append(
            {
                "name": r.row.name,
                "compared_as": r.row.compared_as,
                "kind": r.row.kind,
                "read_by": r.row.reads,
                "train_tflop": r.row.flops / 1e12,
                "inference_gflop": r.row.inference_flops / 1e9,
            }
            | summary
        )
    study = layout.study
    epochs = {
        name: {"epochs": p.cost.epochs, "max_steps_per_epoch": p.cost.max_steps_per_epoch}
        for name, p in layout.plans.items()
        if p.cost is not None
    }
    return {
        "study": study.name,
        "seeds": study.seeds,
        "budget": study.budget.model_dump(mode="json"),
        "epochs": epochs,
        "rows": rows,
        "pairs": pairs(results),
        "recommendation": [p.to_json() for p in picks],
        "judges": {
            judge: {"rows": {r.row.name: _summary(r.values["top1"]) for r in rs}, "pairs": pairs(rs)}
            for judge, rs in by_judge.items()
        },
    }


def _summary(values: list[float | None]) -> dict[str, Any]:
    mean, std = mean_std(values)
    return {"mean": _clean(mean), "std": _clean(std), "per_seed": [_clean(v) for v in values]}


def pareto_front(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """The points no other point beats on both (lower cost, higher top-1), by cost."""
    front: list[tuple[float, float, str]] = []
    for cost, top1, name in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or top1 > front[-1][1]:
            front.append((cost, top1, name))
    return front


def pareto_picture(results: list[RouteResult], path: Path, title: str) -> Path:
    """Top-1 against training TFLOP: every seed a dot, every route's mean a marker, the Pareto front of the
    routes a line, and the classifier on the originals (the ceiling, not a route) a dashed line."""
    from srdistill.checkpoints import atomic_path
    from srdistill.reporting.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 5))
    means = []
    for i, r in enumerate(results):
        mean = r.mean("top1") * 100
        if r.row.kind == ORIGINAL:
            if math.isfinite(mean):
                ax.axhline(mean, color="grey", ls="--", lw=1, label=f"{r.row.name}: the ceiling")
            continue
        colour = plt.get_cmap("tab20")(i % 20)
        x = r.row.flops / 1e12
        seeds = [v * 100 for v in r.values["top1"] if v is not None]
        ax.scatter([x] * len(seeds), seeds, s=12, color=colour, alpha=0.5)
        if math.isfinite(mean):
            ax.scatter([x], [mean], s=60, color=colour, edgecolors="black", label=f"{r.row.name} ({r.row.reads})")
            ax.annotate(r.row.name, (x, mean), textcoords="offset points", xytext=(6, 4), fontsize=7)
            means.append((x, mean, r.row.name))
    front = pareto_front(means)
    ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="black", lw=1, label="Pareto front")
    ax.set(xlabel="training TFLOP (the runs a route starts from included)", ylabel="top-1 (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        title="mean of the seeds (dots: each seed)",
        title_fontsize=7,
    )
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path


def html_page(
    layout: Layout,
    results: list[RouteResult],
    picks: list[Pick],
    picture: Path,
    by_judge: dict[str, list[RouteResult]],
) -> str:
    """One self-contained page: the recommendation, the picture, the table and the pairs."""
    image = base64.b64encode(picture.read_bytes()).decode()
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells(r)) + "</tr>" for r in results)
    advice = "".join(f"<li>{html.escape(p.line())}</li>" for p in picks)
    beyond = (
        "".join(
            f"<li>{html.escape(p['better'])} &gt; {html.escape(p['worse'])}: {p['gap_points']:+.2f} points</li>"
            for p in pairs(results)
            if p["beyond_spread"]
        )
        or "<li>none</li>"
    )
    name = html.escape(layout.study.name)
    judged = ""
    if by_judge:
        header, *rows = judges_table(results, by_judge)
        cells_html = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        lines = "".join(f"<li>{html.escape(line)}</li>" for line in judges_beyond(by_judge))
        judged = (
            f"<h2>Under the judges</h2><table><tr>{''.join(f'<th>{html.escape(h)}</th>' for h in header)}</tr>"
            f"{cells_html}</table><ul>{lines}</ul>"
        )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{name}: route study</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}
td:first-child,td:nth-child(2){{text-align:left}}</style>
</head><body><h1>{name}: which route?</h1>
<p>Seeds {", ".join(map(str, layout.study.seeds))}; mean ± sample std. {html.escape(budget_line(layout))}
{html.escape(PSNR_NOTE)}</p>
<h2>Recommendation</h2><ul>{advice}</ul>
<h2>Top-1 against training cost</h2><img alt="Pareto picture" src="data:image/png;base64,{image}">
<h2>Routes</h2><table><tr>{head}</tr>{body}</table>
<h2>Gaps larger than the spread</h2><p>The gap of two means exceeds their two standard deviations added.</p>
<ul>{beyond}</ul>{judged}</body></html>
"""


def _clean(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None
