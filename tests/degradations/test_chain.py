"""A chain of degradations: its steps in order, each validated like any degradation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from srdistill.catalog import catalog
from srdistill.degradations.blur import GaussianBlur
from srdistill.degradations.jpeg import JPEG
from srdistill.degradations.resize import Downscale
from srdistill.recipe.loading import validate_recipe


def smooth(n: int = 2, c: int = 3, size: int = 32) -> torch.Tensor:
    torch.manual_seed(0)
    return F.interpolate(torch.rand(n, c, 4, 4), size=(size, size), mode="bilinear", align_corners=False)


def test_a_chain_applies_its_steps_in_order(make_recipe, tmp_path) -> None:
    steps = [
        {"type": "gaussian_blur", "sigma": 0.8},
        {"type": "bicubic", "factor": 0.5},
        {"type": "jpeg", "quality": 60},
    ]
    recipe = validate_recipe(make_recipe(tmp_path, degradation={"type": "chain", "steps": steps}))
    chain = catalog().degradations.build(recipe.degradation)
    images = smooth(c=1, size=28)
    assert chain.output_size((28, 28)) == (14, 14)
    expected = JPEG(60)(Downscale(0.5)(GaussianBlur(0.8)(images)))
    assert torch.allclose(chain(images), expected, atol=1e-6)


def test_chain_steps_are_validated_like_any_degradation(make_recipe, tmp_path) -> None:
    from srdistill.recipe.loading import RecipeError

    bad = {"type": "chain", "steps": [{"type": "blur"}, {"type": "bicubic", "factr": 0.5}]}
    with pytest.raises(RecipeError) as info:
        validate_recipe(make_recipe(tmp_path, degradation=bad))
    text = str(info.value)
    assert "degradation.steps.0: unknown degradation 'blur'" in text
    assert "degradation.steps.1.factr: unknown key. Did you mean 'factor'?" in text
