"""Recipes: YAML files, validated by pydantic, that assemble a run."""

from srdistill.recipe.loading import RecipeError, load_recipe
from srdistill.recipe.schema import Recipe

__all__ = ["Recipe", "RecipeError", "load_recipe"]
