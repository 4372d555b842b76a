"""A study's judges: classifiers fitted on the base once per seed (or given), that judge every SR row of each
seed's compare, and that a route's student may also train against (``ensemble:``)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from srdistill.engine.runs import BEST
from srdistill.recipe.loading import apply_overrides, validate_recipe
from srdistill.recipe.schema import Recipe
from srdistill.study.schema import JudgeSpec, RouteSpec, StudyConfig

#: a judge's run folder in a seed's folder: judge.<name>
PREFIX = "judge."


def folder(study: StudyConfig, judge: JudgeSpec, seed: int) -> Path:
    return study.folder / f"seed{seed}" / f"{PREFIX}{judge.name}"


def weights(study: StudyConfig, seed: int) -> dict[str, Path]:
    """The weights file each fitted judge's run of ``seed`` leaves, by judge name."""
    return {j.name: folder(study, j, seed) / BEST for j in study.judges if j.train is not None}


def teacher_section(judge: JudgeSpec, fitted: dict[str, Path | None]) -> dict[str, Any]:
    """The judge's teacher section, with the weights its fit of this seed left (None while planning)."""
    section = copy.deepcopy(judge.teacher)
    if judge.name in fitted:
        path = fitted[judge.name]
        section["weights"] = None if path is None else str(path)
    return section


def fit_recipe(study: StudyConfig, judge: JudgeSpec, seed: int) -> Recipe:
    """The run that fits ``judge`` on the base for ``seed`` (its ``train`` is a teacher fit's)."""
    assert judge.train is not None
    raw = {k: copy.deepcopy(v) for k, v in study.base.items() if k not in ("student", "compare")}
    raw |= {"name": f"judge_{judge.name}", "seed": seed, "teacher": copy.deepcopy(judge.teacher)}
    raw["train"] = {**judge.train, "fit": "teacher"}
    raw["run"] = {"dir": str(folder(study, judge, seed))}
    apply_overrides(raw, judge.overrides, f"judge '{judge.name}' set")
    return validate_recipe(raw, f"judge '{judge.name}'")


def ensemble(study: StudyConfig, route: RouteSpec, fitted: dict[str, Path | None]) -> list[dict[str, Any]]:
    """The recipe's ``teachers:`` entries for the judges ``route`` trains against."""
    by_name = {j.name: j for j in study.judges}
    return [
        {"name": name, "weight": weight, "teacher": teacher_section(by_name[name], fitted)}
        for name, weight in route.ensemble.items()
    ]


def compare_entries(study: StudyConfig, seed: int) -> list[dict[str, Any]]:
    """compare.judges for one seed's compare: every judge, with the weights of that seed's fit."""
    fitted: dict[str, Path | None] = dict(weights(study, seed))
    return [{"name": j.name, "teacher": teacher_section(j, fitted)} for j in study.judges]
