"""The train section: one model per fit, each naming the networks it trains and how each is updated."""

from __future__ import annotations

import pytest

from srdistill.recipe import RecipeError, load_recipe
from srdistill.recipe.train import FITS, NetworkConfig, fit_models


def test_every_fit_has_a_model_and_the_union_knows_them_all() -> None:
    assert set(FITS) == set(fit_models()) and "student" in FITS and "teacher" in FITS


def test_a_one_network_fit_keeps_its_update_settings_in_the_train_section(write_recipe) -> None:
    recipe = load_recipe(write_recipe(), ["train.grad_clip=2.0", "train.ema={decay: 0.99}"])
    [(name, cfg)] = recipe.train.networks().items()
    assert name == "student" and isinstance(cfg, NetworkConfig)
    assert cfg.grad_clip == 2.0 and cfg.ema is not None and cfg.ema.decay == 0.99
    assert cfg.optimizer == recipe.train.optimizer
    teacher = load_recipe(write_recipe(student=None, losses=None, train={"fit": "teacher"}))
    assert list(teacher.train.networks()) == ["teacher"] and not teacher.trains_student


def test_a_key_of_another_fit_says_which_fit_it_belongs_to(write_recipe) -> None:
    with pytest.raises(RecipeError) as info:
        load_recipe(write_recipe(), ["train.hflip=true"])
    assert info.value.problems == ["train.hflip: applies to fit: teacher only (this train section has fit: student)"]


def test_a_teacher_fit_is_validated_on_originals(write_recipe) -> None:
    with pytest.raises(RecipeError, match="compares SR with the original"):
        load_recipe(write_recipe(student=None, losses=None, train={"fit": "teacher", "monitor": "psnr"}))
