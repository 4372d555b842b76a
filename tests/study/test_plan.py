"""A study's routes checked and counted by the engine, and its budget applied: recipe, equal or TFLOP."""

from __future__ import annotations

import pytest

from srdistill.errors import UserError
from srdistill.study.plan import Cost, plan_routes, runs_for_seed
from srdistill.study.schema import load_study
from tests.study.conftest import TINY

SR_ROUTES = [
    {"name": "bicubic", "kind": "bicubic"},
    {"name": "lr_finetune", "kind": "lr_finetune", "set": TINY},
    {"name": "pixel", "kind": "pixel", "set": TINY},
    {"name": "darionet", "kind": "darionet", "start": "pixel", "set": TINY},
]


@pytest.mark.parametrize(("steps", "per_epoch"), [(1, 12), (3, 12), (12, 12), (100, 3), (101, 3), (16815, 312)])
def test_steps_fill_whole_epochs_of_equal_length_never_past_the_budget(steps: int, per_epoch: int) -> None:
    cost = Cost(step_flops=10, steps_per_epoch=per_epoch, epochs=2, max_steps_per_epoch=None, inference_flops=0)
    scaled = cost.with_steps(steps)
    assert steps - max(1, steps // 200) <= scaled.steps <= steps
    assert scaled.flops == 10 * scaled.steps and (scaled.max_steps_per_epoch or per_epoch) <= per_epoch


def test_a_budget_of_whole_epochs_keeps_the_epochs_whole() -> None:
    cost = Cost(step_flops=10, steps_per_epoch=312, epochs=2, max_steps_per_epoch=None, inference_flops=0)
    assert cost.with_steps(624) == cost and cost.with_steps(312 * 27).epochs == 27


def test_at_the_recipe_budget_a_route_is_charged_its_own_run_and_its_start(write_study) -> None:
    study = load_study(write_study(routes=SR_ROUTES))
    plans = plan_routes(study)
    assert plans["bicubic"].cost is None and plans["bicubic"].flops == 0
    pixel, darionet = plans["pixel"], plans["darionet"]
    assert pixel.cost is not None and darionet.cost is not None
    assert (pixel.cost.epochs, pixel.cost.steps) == (1, 2)  # the kind's 1 epoch, cut to 2 steps by the route's set
    assert darionet.start == pixel.cost and darionet.flops == darionet.cost.flops + pixel.cost.flops
    assert not any(p.scaled for p in plans.values())
    runs = runs_for_seed(study, plans, 0, {})
    assert [r.label for r in runs] == ["lr_finetune", "pixel", "darionet"]  # no start run of its own
    by = {r.label: r for r in runs}
    assert by["darionet"].needs == (study.folder / "seed0" / "pixel",)
    assert by["darionet"].recipe.student.weights == study.folder / "seed0" / "pixel" / "best.safetensors"


@pytest.mark.parametrize("budget", ["equal", {"equal": "lr_finetune"}, 0.002])
def test_an_equal_budget_gives_every_trained_route_the_same_flops(write_study, budget) -> None:
    study = load_study(write_study(budget=budget, routes=SR_ROUTES))
    at_recipe = plan_routes(load_study(write_study(routes=SR_ROUTES)))
    plans = plan_routes(study)
    if budget == "equal":
        target = max(p.flops for p in at_recipe.values())
    elif isinstance(budget, dict):
        target = at_recipe["lr_finetune"].flops
    else:
        target = int(budget * 1e12)
    for name in ("lr_finetune", "pixel", "darionet"):
        plan = plans[name]
        assert plan.cost is not None
        assert target - plan.cost.epochs * plan.cost.step_flops < plan.flops <= target, name
    assert plans["darionet"].start == at_recipe["pixel"].cost  # the start stays at its recipe's budget


def test_a_scaled_route_that_others_start_from_keeps_a_start_run_at_its_recipe_budget(write_study) -> None:
    study = load_study(write_study(budget="equal", routes=SR_ROUTES))
    plans = plan_routes(study)
    assert plans["pixel"].scaled
    runs = runs_for_seed(study, plans, 1, {})
    by = {r.label: r for r in runs}
    start = study.folder / "seed1" / "pixel.start"
    assert by["pixel.start"].folder == start and by["pixel.start"].cost == plans["pixel"].at_recipe
    assert by["darionet"].needs == (start,)
    assert [r.label for r in runs].index("pixel.start") < [r.label for r in runs].index("darionet")


def test_a_budget_below_one_step_is_refused_before_training(write_study) -> None:
    with pytest.raises(UserError, match="leaves it less than one training step") as caught:
        plan_routes(load_study(write_study(budget=1e-9, routes=SR_ROUTES)))
    assert "Raise the budget" in (caught.value.fix or "")


def test_a_route_whose_classifier_does_not_fit_the_data_is_named(write_study) -> None:
    route = {"name": "five", "kind": "lr_finetune", "set": [*TINY, "teacher.num_classes=5"]}
    with pytest.raises(UserError, match=r"route 'five': .*5 classes but the data set has 10"):
        plan_routes(load_study(write_study(routes=[route])))


def test_a_route_starting_from_a_classifier_route_is_refused(write_study) -> None:
    routes = [{"name": "f", "kind": "lr_finetune", "set": TINY}, {"name": "d", "kind": "darionet", "start": "f"}]
    with pytest.raises(UserError, match="starts from 'f', which trains no SR network"):
        plan_routes(load_study(write_study(routes=routes)))
