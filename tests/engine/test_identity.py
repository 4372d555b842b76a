"""Run identity: an upgrade that adds a defaulted field never orphans a run; a changed setting is caught."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from srdistill.engine.identity import differences
from srdistill.recipe.loading import validate_recipe
from srdistill.recipe.schema import Recipe


@pytest.fixture
def recipe(make_recipe, tmp_path: Path) -> Recipe:
    return validate_recipe(make_recipe(tmp_path))


def saved(recipe: Recipe) -> dict[str, Any]:
    return recipe.model_dump(mode="json")


def test_the_same_recipe_has_no_differences(recipe: Recipe) -> None:
    assert differences(saved(recipe), recipe) == []


@pytest.mark.parametrize(
    "older",
    [
        lambda d: d["train"].pop("checkpoint_minutes"),  # a train field added since the run started
        lambda d: d["runtime"].pop("cache_teacher"),
        lambda d: d["student"].pop("resize"),  # a component field
        lambda d: d["losses"][0].pop("weight"),  # a field of a list item
        lambda d: d.pop("runtime"),  # a whole section
    ],
    ids=["train", "runtime", "student", "loss", "section"],
)
def test_fields_added_by_an_upgrade_keep_the_run(recipe: Recipe, older) -> None:
    old = saved(recipe)
    older(old)
    assert differences(old, recipe) == []


def test_a_field_removed_by_an_upgrade_is_ignored(recipe: Recipe) -> None:
    old = saved(recipe)
    old["train"]["retired_setting"] = 3
    assert differences(old, recipe) == []


def test_a_new_field_set_away_from_its_default_is_a_difference(recipe: Recipe) -> None:
    raw = saved(recipe)
    raw["train"]["checkpoint_minutes"] = 5.0
    changed = validate_recipe(raw)
    old = saved(recipe)
    old["train"].pop("checkpoint_minutes")
    assert differences(old, changed) == ["train.checkpoint_minutes: (not set) → 5.0"]


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("seed", 7, "seed: 0 → 7"),
        ("student", None, "student.num_feat: 8 → (not set)"),
    ],
)
def test_changed_settings_are_differences(recipe: Recipe, key: str, value: Any, shown: str) -> None:
    raw = saved(recipe)
    raw[key] = value
    if key == "student":
        raw["train"] = {"fit": "teacher"}
    assert shown in differences(saved(recipe), validate_recipe(raw))


def test_a_changed_list_is_a_difference(recipe: Recipe) -> None:
    raw = saved(recipe)
    raw["losses"].append({"type": "pixel_l1", "weight": 0.5})
    found = differences(saved(recipe), validate_recipe(raw))
    assert "losses.1.type: (not set) → 'pixel_l1'" in found


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(wandb={"project": "p", "mode": "offline"}),  # W&B switched on, or its mode changed
        lambda d: d["train"].update(tensorboard=False),
        lambda d: d["train"].update(log_every=7),
    ],
    ids=["wandb", "tensorboard", "log_every"],
)
def test_logging_settings_are_not_part_of_the_run(recipe: Recipe, change) -> None:
    raw = saved(recipe)
    change(raw)
    assert differences(saved(recipe), validate_recipe(raw)) == []
    assert differences(raw, recipe) == []


def test_an_older_spelling_of_a_value_is_the_same_recipe(write_recipe) -> None:
    """Runs saved when runtime.compile was a boolean continue under its named choices."""
    from srdistill.engine.identity import differences
    from srdistill.engine.runs import resolved_yaml
    from srdistill.recipe import load_recipe

    recipe = load_recipe(write_recipe())
    saved = yaml.safe_load(resolved_yaml(recipe))
    saved["runtime"]["compile"] = False
    assert differences(saved, recipe) == []
    saved["runtime"]["compile"] = True  # today's "default": a different run
    assert differences(saved, recipe) == ["runtime.compile: 'default' → 'none'"]
