"""Building the report: numbers, figures and one self-contained HTML page."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from srdistill.errors import UserError
from srdistill.methods import ORIGINAL, REFERENCE_BASELINE
from srdistill.recipe.schema import Recipe
from srdistill.reporting import plots
from srdistill.reporting.analysis import ClassStats, class_stats, gains_and_losses, ranked
from srdistill.reporting.collect import Predictions, collect
from srdistill.reporting.judges_plot import judges_heatmap


@dataclass
class Report:
    html: Path
    figures: list[Path]
    method: str


def make_report(recipe: Recipe, out: Path, console: Console | None, method: str | None = None) -> Report:
    """Analyse ``recipe``'s test split and write PNGs and ``report.html`` into ``out``."""
    pred = collect(recipe, console)
    target = method or (pred.methods[-1] if pred.methods else ORIGINAL)
    if target not in pred.preds:
        raise UserError(f"No method '{target}' in this report.", f"Use one of: {', '.join(pred.methods)}.")
    out.mkdir(parents=True, exist_ok=True)
    n = pred.info.num_classes
    names = pred.info.class_names
    stats = {m: class_stats(pred.labels, p, n) for m, p in pred.preds.items()}
    before, after = stats[ORIGINAL].accuracy, stats[target].accuracy
    change = after - before
    k = max(1, min(10, n // 3))
    hardest = ranked(stats[ORIGINAL].f1, k, largest=False)
    worst, best = gains_and_losses(change, k)

    runs = {recipe.name: recipe.run_dir / "metrics.csv"}
    for ref in recipe.compare.checkpoints:
        if isinstance(ref.path, Path):  # a release name has no run folder
            runs.setdefault(ref.path.parent.name, ref.path.parent / "metrics.csv")
    compared = {ORIGINAL: None, REFERENCE_BASELINE: None, target: None}
    figures = [
        plots.training_curves(runs, out / "training_curves.png"),
        plots.change_distribution(before, after, target, out / "class_change.png"),
        plots.class_bars(hardest, names, {m: stats[m].f1 for m in compared}, "hardest classes on originals (lowest F1)",
                         "F1", out / "hardest_classes.png"),
        plots.class_bars(worst + best[::-1], names, {m: stats[m].accuracy for m in compared},
                         f"largest losses (left) and gains (right) of {target}", "top-1", out / "losses_gains.png")
        if worst or best else None,
        plots.reconstruction_grid(worst[:3], names, pred.examples, _columns(pred), f"classes {target} loses most on",
                                  out / "reconstructions_worst.png") if worst else None,
        plots.reconstruction_grid(best[:3], names, pred.examples, _columns(pred), f"classes {target} gains most on",
                                  out / "reconstructions_best.png") if best else None,
        judges_heatmap(recipe, pred, out / "judges.png"),
    ]  # fmt: skip
    written = [f for f in figures if f is not None]
    page = out / "report.html"
    page.write_text(_page(recipe, pred, stats, target, hardest, worst, best, written), encoding="utf-8")
    return Report(page, written, target)


def _columns(pred: Predictions) -> list[str]:
    return [ORIGINAL, "degraded", *pred.methods]


CAPTIONS = {
    "training_curves.png": "Training: validation values and training loss per epoch (the paper's Fig. 2).",
    "class_change.png": "Distribution of the per-class top-1 change between originals and SR, and the change "
    "against how hard the class is on originals (Fig. 3).",
    "hardest_classes.png": "The hardest classes by F1 on originals, and how the SR images fare on them (Fig. 4).",
    "losses_gains.png": "Classes with the largest losses and gains in top-1 (Fig. 5).",
    "reconstructions_worst.png": "Reconstructions of the classes that lose most: original | degraded | each "
    "method (Fig. 6).",
    "reconstructions_best.png": "Reconstructions of the classes that gain most (Fig. 7).",
    "judges.png": "Judges: each method's recovered top-1 (SR − bicubic)/(original − bicubic) under the teacher and "
    "every judge of compare.judges; * marks the classifiers the student was trained against, – a gap too small "
    "to divide by.",
}


def _page(
    recipe: Recipe, pred: Predictions, stats: dict[str, ClassStats], target: str,
    hardest: list[int], worst: list[int], best: list[int], figures: list[Path],
) -> str:  # fmt: skip
    names = pred.info.class_names
    esc = html.escape
    overall = "".join(
        f"<tr><td>{esc(m)}</td><td>{(pred.preds[m] == pred.labels).double().mean():.4f}</td></tr>" for m in pred.preds
    )

    def table(classes: list[int], title: str, empty: str = "") -> str:
        if not classes:
            return f"<h3>{esc(title)}</h3><p>{esc(empty)}</p>"
        head = "<tr><th>class</th><th>images</th><th>F1 original</th><th>top-1 original</th>" \
               f"<th>top-1 {esc(target)}</th><th>change</th></tr>"  # fmt: skip
        body = "".join(
            f"<tr><td>{esc(names[c])}</td><td>{int(stats[ORIGINAL].support[c])}</td>"
            f"<td>{stats[ORIGINAL].f1[c]:.3f}</td><td>{stats[ORIGINAL].accuracy[c]:.3f}</td>"
            f"<td>{stats[target].accuracy[c]:.3f}</td>"
            f"<td>{stats[target].accuracy[c] - stats[ORIGINAL].accuracy[c]:+.3f}</td></tr>"
            for c in classes
        )
        return f"<h3>{esc(title)}</h3><table>{head}{body}</table>"

    imgs = "".join(
        f'<figure><img alt="{esc(f.name)}" src="data:image/png;base64,{base64.b64encode(f.read_bytes()).decode()}">'
        f"<figcaption>{esc(CAPTIONS.get(f.name, f.name))}</figcaption></figure>"
        for f in figures
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>srdistill report: {esc(recipe.name)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}img{{max-width:100%}}figure{{margin:1.5em 0}}
figcaption{{color:#555;font-size:.9em}}</style></head><body>
<h1>srdistill report: {esc(recipe.name)}</h1>
<p>{len(pred.labels):,} test images, {pred.info.num_classes} classes; per-class changes are those of
<b>{esc(target)}</b> against the teacher on the originals.</p>
<h2>Top-1 on the test split</h2><table><tr><th>method</th><th>top-1</th></tr>{overall}</table>
{imgs}
<h2>Classes</h2>
{table(hardest, "Hardest classes on originals (lowest F1)")}
{table(worst, f"Largest losses of {target}", f"No class has a lower top-1 with {target} than on originals.")}
{table(best, f"Largest gains of {target}", f"No class has a higher top-1 with {target} than on originals.")}
</body></html>
"""


def recipe_for(target: Path) -> tuple[Path, list[str]]:
    """A recipe file, or a run folder (its saved recipe.yaml), to report on."""
    if target.is_dir():
        saved = target / "recipe.yaml"
        if not saved.is_file():
            raise UserError(f"{target} is not a run folder (no recipe.yaml).", "Give a recipe file or a run folder.")
        return saved, []
    return target, []
