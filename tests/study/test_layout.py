"""A whole study laid out: each seed's runs and compare, the table's rows, and the study's identity."""

from __future__ import annotations

from srdistill.study.layout import lay_out
from srdistill.study.schema import load_study
from tests.study.conftest import TINY

ROUTES = [
    {"name": "original", "kind": "original"},
    {"name": "lr_finetune", "kind": "lr_finetune", "set": TINY},
    {"name": "pixel", "kind": "pixel", "set": TINY},
    {"name": "joint", "kind": "joint", "start": "pixel", "set": TINY},
]


def test_each_seed_compares_sr_routes_through_the_base_classifier_and_the_rest_through_their_own(write_study) -> None:
    layout = lay_out(load_study(write_study(routes=ROUTES)))
    seed1 = layout.study.folder / "seed1"
    cfg = layout.compares[1].compare
    assert {c.name: c.path for c in cfg.checkpoints} == {
        "pixel": seed1 / "pixel" / "best.safetensors",
        "joint_sr": seed1 / "joint" / "best.safetensors",
    }
    assert {r.name: (r.sr, r.classifier) for r in cfg.routes} == {
        "lr_finetune": ("bicubic", seed1 / "lr_finetune" / "best.safetensors"),
        "joint": ("joint_sr", seed1 / "joint" / "classifier_best.safetensors"),
    }
    joint = next(r for r in cfg.routes if r.name == "joint")
    assert joint.runs == [seed1 / "pixel", seed1 / "joint"]  # its train seconds include the pixel run it started from
    assert layout.compares[1].seed == 1


def test_the_table_has_every_route_and_each_joint_routes_sr_under_the_original_classifier(write_study) -> None:
    layout = lay_out(load_study(write_study(routes=ROUTES)))
    rows = {r.name: r for r in layout.rows}
    assert list(rows) == ["original", "lr_finetune", "pixel", "joint", "joint_sr"]
    assert rows["joint"].reads == "own classifier" and rows["joint_sr"].reads == "original classifier"
    assert rows["joint"].flops == rows["joint_sr"].flops == layout.plans["joint"].flops > layout.plans["pixel"].flops
    assert rows["original"].flops == 0 and rows["original"].inference_flops == rows["lr_finetune"].inference_flops > 0
    assert rows["pixel"].inference_flops > rows["lr_finetune"].inference_flops  # the SR network runs too


def test_a_classifier_recipe_is_fitted_per_seed_and_read_by_every_route(write_study, write_recipe) -> None:
    classifier = {"train": {"epochs": 1, "batch_size": 16, "max_steps_per_epoch": 2}}
    layout = lay_out(load_study(write_study(classifier=classifier, routes=ROUTES[:3])))
    for seed, runs in layout.runs.items():
        first, *rest = runs
        folder = layout.study.folder / f"seed{seed}" / "classifier"
        assert first.label == "classifier" and first.folder == folder and first.recipe.seed == seed
        for run in rest:
            assert run.recipe.teacher.weights == folder / "best.safetensors" and folder in run.needs
        assert layout.compares[seed].teacher.weights == folder / "best.safetensors"
    assert layout.apart["classifier"].flops > 0


def test_the_identity_is_the_same_for_the_same_study_and_changes_with_the_budget(write_study) -> None:
    same = [lay_out(load_study(write_study(routes=ROUTES[:3]))).identity() for _ in range(2)]
    assert same[0] == same[1]
    other = lay_out(load_study(write_study(routes=ROUTES[:3], budget="equal"))).identity()
    assert other["runs"] != same[0]["runs"]
