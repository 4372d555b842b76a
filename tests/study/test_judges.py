"""A study's judges: fitted once per seed on the base, judging every SR row, and joining a route's ensemble."""

from __future__ import annotations

from srdistill.study import judges
from srdistill.study.layout import lay_out
from srdistill.study.schema import load_study
from tests.study.conftest import TINY

CONVNEXT = {"type": "timm", "model": "test_convnext", "input_size": 32, "crop_pct": 1.0, "mean": [0.5], "std": [0.5]}
FIT = {"epochs": 1, "batch_size": 16, "max_steps_per_epoch": 2}
ROUTES = [
    {"name": "pixel", "kind": "pixel", "set": TINY},
    {"name": "duo", "kind": "darionet", "start": "pixel", "ensemble": {"convnext": 0.5}, "set": TINY},
    {"name": "solo", "kind": "darionet", "start": "pixel", "set": TINY},
]


def test_a_fitted_judge_runs_once_per_seed_and_every_compare_reads_its_weights(write_study) -> None:
    study = load_study(write_study(judges=[{"name": "convnext", "teacher": CONVNEXT, "train": FIT}], routes=ROUTES))
    layout = lay_out(study)
    for seed in study.seeds:
        folder = study.folder / f"seed{seed}" / "judge.convnext"
        fit = next(r for r in layout.runs[seed] if r.label == "judge.convnext")
        assert fit.folder == folder and fit.recipe.teacher.model == "test_convnext" and fit.recipe.seed == seed
        assert fit.recipe.student is None and fit.recipe.train.fit == "teacher"
        [judge] = layout.compares[seed].compare.judges
        assert judge.name == "convnext" and judge.teacher.weights == folder / "best.safetensors"
    assert layout.apart["judge.convnext"].flops > 0


def test_a_routes_ensemble_trains_against_that_seeds_judge(write_study) -> None:
    study = load_study(write_study(judges=[{"name": "convnext", "teacher": CONVNEXT, "train": FIT}], routes=ROUTES))
    layout = lay_out(study)
    duo = next(r for r in layout.runs[1] if r.label == "duo")
    [member] = duo.recipe.teachers
    folder = study.folder / "seed1" / "judge.convnext"
    assert (member.name, member.weight, member.teacher.weights) == ("convnext", 0.5, folder / "best.safetensors")
    assert folder in duo.needs
    duo_step, solo_step = layout.plans["duo"].cost.step_flops, layout.plans["solo"].cost.step_flops
    assert duo_step > solo_step  # the member's passes are counted too


def test_a_judge_with_weights_of_its_own_is_not_fitted(write_study, tmp_path) -> None:
    weights = tmp_path / "convnext.safetensors"
    section = {**CONVNEXT, "weights": str(weights)}
    study = load_study(write_study(judges=[{"name": "given", "teacher": section}], routes=ROUTES[:1]))
    assert judges.weights(study, 0) == {}
    [entry] = judges.compare_entries(study, 0)
    assert entry["teacher"]["weights"] == str(weights)
