"""The study recipe: budgets in their short forms, and every bad study refused with one line naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from srdistill.recipe.loading import RecipeError
from srdistill.study.schema import EqualBudget, RecipeBudget, TflopBudget, load_study


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        ("recipe", RecipeBudget()),
        ("equal", EqualBudget()),
        ({"equal": "lr_finetune"}, EqualBudget(route="lr_finetune")),
        (12.5, TflopBudget(tflop=12.5)),
        ({"tflop": 3}, TflopBudget(tflop=3)),
    ],
)
def test_budget_short_forms(write_study, budget: Any, expected: Any) -> None:
    assert load_study(write_study(budget=budget)).budget == expected


def test_defaults(write_study, tmp_path: Path) -> None:
    study = load_study(write_study())
    assert study.budget == RecipeBudget() and study.classifier is None
    assert study.folder == tmp_path / "study"
    assert study.routes[1].overrides[0] == "train.batch_size=16"  # `set:` in YAML


ROUTES = [{"name": "bicubic", "kind": "bicubic"}]

#: (study fields, what the one line says)
BAD: dict[str, tuple[dict[str, Any], str]] = {
    "unknown kind": (
        {"routes": [{"name": "x", "kind": "darionett"}]},
        "unknown route kind 'darionett'. Did you mean 'darionet'",
    ),
    "missing recipe": (
        {"routes": [{"name": "x", "kind": "recipe", "recipe": "nowhere.yaml"}]},
        "recipe file not found: nowhere.yaml",
    ),
    "recipe without kind recipe": (
        {"routes": [{"name": "x", "kind": "pixel", "recipe": "r.yaml"}]},
        "`recipe:` goes with kind recipe",
    ),
    "no seeds": ({"seeds": []}, "seeds: List should have at least 1 item"),
    "a seed twice": ({"seeds": [0, 1, 0]}, "each seed once: 0 repeated"),
    "two routes, one folder": (
        {"routes": [*ROUTES, {"name": "Bicubic", "kind": "bicubic"}]},
        "two routes would write one folder: Bicubic, bicubic",
    ),
    "start not a route": (
        {"routes": [{"name": "d", "kind": "darionet", "start": "pixel"}]},
        "starts from 'pixel', which is not a route",
    ),
    "start of a classifier route": (
        {"routes": [{"name": "f", "kind": "lr_finetune", "start": "f"}]},
        "kind lr_finetune trains no student",
    ),
    "a chain of starts": (
        {
            "routes": [
                {"name": "p", "kind": "pixel"},
                {"name": "d", "kind": "darionet", "start": "p"},
                {"name": "j", "kind": "joint", "start": "d"},
            ]
        },
        "a route can start only from a route that starts from none",
    ),
    "equal to no route": ({"budget": {"equal": "joint"}}, "budget: {equal: joint} names no route"),
    "negative budget": ({"budget": -1}, "budget.tflop: Input should be greater than 0"),
    "base sets train": ({"base": {"train": {"epochs": 3}}}, "train: the study sets these for each run"),
    "unknown key": ({"sedes": [0]}, "sedes: Extra inputs are not permitted"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_study_names_its_problem(write_study, case: str) -> None:
    fields, says = BAD[case]
    with pytest.raises(RecipeError) as caught:
        load_study(write_study(**fields))
    assert says in caught.value.problem, caught.value.problem
    assert "recipes/studies/" in (caught.value.fix or "")


def test_a_missing_study_file_names_where_the_shipped_ones_are(tmp_path: Path) -> None:
    from srdistill.errors import UserError

    with pytest.raises(UserError, match="Study recipe not found") as caught:
        load_study(tmp_path / "nowhere.yaml")
    assert "recipes/studies/" in (caught.value.fix or "")
