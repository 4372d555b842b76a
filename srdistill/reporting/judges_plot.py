"""The judges matrix as a picture: every method's recovered fraction under every classifier."""

from __future__ import annotations

import math
from pathlib import Path

from srdistill.methods import ORIGINAL, REFERENCE_BASELINE, recovered
from srdistill.recipe.schema import MAIN_TEACHER, Recipe
from srdistill.reporting.collect import Predictions
from srdistill.reporting.plots import _pyplot, _save


def recovered_matrix(pred: Predictions) -> dict[str, dict[str, float]]:
    """Column (the teacher, then each judge) -> method -> recovered fraction of top-1."""
    columns = {MAIN_TEACHER: pred.preds, **pred.judges}
    out = {}
    for column, preds in columns.items():
        top1 = {m: (p == pred.labels).double().mean().item() for m, p in preds.items()}
        out[column] = {m: recovered(v, top1[REFERENCE_BASELINE], top1[ORIGINAL]) for m, v in top1.items()}
    return out


def trained_against(recipe: Recipe) -> set[str]:
    """The columns whose classifier the student was trained against: the teacher, and every judge
    whose teacher section is that of the recipe's teacher or of one of its ``teachers``."""
    used = [recipe.teacher.model_dump(), *(t.teacher.model_dump() for t in recipe.teachers)]
    return {MAIN_TEACHER} | {j.name for j in recipe.compare.judges if j.teacher.model_dump() in used}


def judges_heatmap(recipe: Recipe, pred: Predictions, path: Path) -> Path | None:
    """Methods down, classifiers across, coloured by recovered fraction; ``*`` marks the teacher(s) used in
    training. None without judges."""
    if not pred.judges:
        return None
    matrix = recovered_matrix(pred)
    trained = trained_against(recipe)
    columns = list(matrix)
    methods = [m for m in matrix[MAIN_TEACHER] if m not in (ORIGINAL, REFERENCE_BASELINE)]
    values = [[matrix[c][m] for c in columns] for m in methods]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.4 * len(columns) + 2.5, 0.55 * len(methods) + 1.8))
    cmap = plt.get_cmap("RdYlGn").with_extremes(bad="#dddddd")  # NaN: gap too small to divide by
    image = ax.imshow(values, cmap=cmap, vmin=-1.0, vmax=1.0, aspect="auto")
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            ax.text(j, i, "–" if math.isnan(v) else f"{100 * v:.0f}%", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels([f"{c}*" if c in trained else c for c in columns], rotation=30, ha="right")
    ax.set_yticks(range(len(methods)))
    ax.set_yticklabels(methods)
    ax.set_title("recovered top-1: (SR − bicubic)/(original − bicubic); * trained against", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04)
    return _save(fig, path)
