"""Every shipped route kind builds a valid recipe on a study's base, with the fit and networks it promises."""

from __future__ import annotations

import pytest

from srdistill.study.kinds import KINDS
from srdistill.study.plan import route_sections, validated
from srdistill.study.schema import RouteSpec, load_study

TRAINED = [name for name, kind in KINDS.items() if kind.train is not None]


@pytest.mark.parametrize("name", TRAINED)
def test_each_trained_kind_is_a_valid_recipe_on_the_base(write_study, name: str) -> None:
    study = load_study(write_study())
    kind = KINDS[name]
    route = RouteSpec(name="r", kind=name)
    recipe = validated("r", route_sections(study, route, seed=7, weights={}))
    assert recipe.seed == 7 and recipe.run_dir == study.folder / "seed7" / "r"
    assert recipe.train.fit == kind.train.get("fit", "student")
    assert (recipe.student is not None) == kind.trains_student  # a classifier route carries no SR network
    assert recipe.trains_student == kind.trains_student
    if kind.from_scratch:
        assert recipe.teacher.weights is None


def test_untrained_kinds_name_the_compare_row_they_show() -> None:
    assert {n: k.row for n, k in KINDS.items() if k.train is None} == {"original": "original", "bicubic": "bicubic"}


def test_mixed_inputs_are_the_lr_finetune_with_originals_beside() -> None:
    lr, mixed = KINDS["lr_finetune"].train, KINDS["lr_mixed"].train
    assert lr is not None and mixed is not None
    assert {k: v for k, v in mixed.items() if k != "inputs"} == {k: v for k, v in lr.items() if k != "inputs"}
    assert (lr["inputs"], mixed["inputs"]) == ("degraded", "mixed")


def test_a_routes_set_overrides_its_kind_and_start_sets_the_student_weights(write_study, tmp_path) -> None:
    study = load_study(write_study())
    route = RouteSpec(name="d", kind="darionet", start="p", set=["train.epochs=5"])
    raw = route_sections(study, route, seed=0, weights={"p": tmp_path / "p" / "best.safetensors"})
    assert raw["train"]["epochs"] == 5 and raw["student"]["weights"] == str(tmp_path / "p" / "best.safetensors")
    assert KINDS["darionet"].train["epochs"] == 2  # the kind itself is untouched
