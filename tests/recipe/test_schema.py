"""The Recipe model: what the recipe's text alone decides about how its sections fit together."""

from __future__ import annotations

import pytest

from srdistill.recipe import RecipeError, load_recipe
from srdistill.recipe.schema import MAIN_TEACHER, recipe_model


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["losses=[{type: logit_mse, weight: 0}, {type: pixel_l1, weight: 0}]"], "Every loss has weight 0"),
        (["teacher_weight=2"], "teacher_weight weighs `teacher` against `teachers`, but teachers is empty"),
        (["losses=[]"], "losses is empty"),
    ],
)
def test_sections_that_do_not_fit_together(write_recipe, overrides: list[str], expected: str) -> None:
    with pytest.raises(RecipeError, match=expected):
        load_recipe(write_recipe(), overrides)


def test_ensemble_member_names_must_differ_from_the_teacher(write_recipe) -> None:
    member = load_recipe(write_recipe()).teacher.model_dump(mode="json")
    with pytest.raises(RecipeError, match=f"names must differ .and not be '{MAIN_TEACHER}'"):
        load_recipe(write_recipe(teachers=[{"name": MAIN_TEACHER, "teacher": member}]))
    recipe = load_recipe(write_recipe(teachers=[{"name": "b", "weight": 0.5, "teacher": member}]))
    assert recipe.teacher_weights() == {MAIN_TEACHER: 1.0, "b": 0.5} and recipe.trains_student


def test_the_model_is_built_once_from_the_registries() -> None:
    assert recipe_model() is recipe_model()
