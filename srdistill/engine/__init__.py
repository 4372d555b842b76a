"""Building a run from a recipe, training it, and evaluating it."""
