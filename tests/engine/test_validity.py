"""Everything checkable before training is checked in one place, by --dry-run and before the first step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srdistill.engine.build import build
from srdistill.engine.validity import outputs
from srdistill.errors import UserError
from srdistill.recipe import load_recipe


def test_the_probe_counts_outputs_without_touching_batchnorm_statistics(write_recipe) -> None:
    recipe = load_recipe(write_recipe(student=None, losses=None, train={"fit": "teacher"}))
    parts = build(recipe, "train", torch.device("cpu"))
    before = {k: v.clone() for k, v in parts.teacher.state_dict().items()}
    assert parts.teacher.training  # a teacher fit trains it
    assert outputs(parts.teacher, parts) == 10
    assert parts.teacher.training and all(torch.equal(v, before[k]) for k, v in parts.teacher.state_dict().items())


def test_an_ensemble_member_of_other_classes_stops_the_dry_run(cli, write_recipe, flatten) -> None:
    raw_teacher = load_recipe(write_recipe()).teacher.model_dump(mode="json")
    member = {**raw_teacher, "num_classes": 5}
    result = cli("train", write_recipe(teachers=[{"name": "five", "teacher": member}]), "--dry-run")
    assert result.exit_code == 1
    text = flatten(result.output)
    assert "teachers 'five' has 5 classes but the data set has 10" in text and "Traceback" not in text


@pytest.mark.parametrize(
    ("fit", "monitor", "expected"),
    [
        ("student", "lpips", "train.monitor: lpips needs images of at least 31×31; this data set's are 28×28"),
        ("teacher", None, None),
    ],
)
def test_the_monitor_against_the_image_size(write_recipe, fit: str, monitor: str | None, expected: str | None) -> None:
    sections = {} if fit == "student" else {"student": None, "losses": None}
    train = {"fit": fit, **({"monitor": monitor} if monitor else {})}
    recipe = load_recipe(write_recipe(train=train, **sections))
    if expected is None:
        build(recipe, "train", torch.device("cpu"))
        return
    with pytest.raises(UserError, match="lpips needs images") as info:
        build(recipe, "train", torch.device("cpu"))
    assert expected in info.value.problem and "train.monitor" in (info.value.fix or "")


def test_compare_metrics_against_the_image_size(write_recipe) -> None:
    recipe = load_recipe(write_recipe(compare={"metrics": ["top1", "lpips"]}))
    with pytest.raises(UserError, match=r"compare\.metrics: lpips needs images") as info:
        build(recipe, "evaluate", torch.device("cpu"))
    assert "Leave lpips out of compare.metrics" in (info.value.fix or "")


def test_every_problem_is_named_at_once(write_recipe) -> None:
    recipe = load_recipe(write_recipe(train={"monitor": "lpips"}, runtime={"cache_teacher": True}),
                         ["losses=[{type: feature, layers: [nowhere]}]"])  # fmt: skip
    with pytest.raises(UserError) as info:
        build(recipe, "train", torch.device("cpu"))
    problem = info.value.problem
    assert problem.startswith("The recipe has 3 problems")
    assert "no layer 'nowhere'" in problem and "cache_teacher" in problem and "lpips" in problem


def test_a_teacher_fit_needs_labels_and_a_head_to_train(tmp_path: Path, write_recipe, photos: Path) -> None:
    recipe = load_recipe(write_recipe(
        data={"type": "photo_folder", "root": str(photos), "train_crop": 50, "channels": 3},
        student=None, losses=None, train={"fit": "teacher", "trainable": "head"},
        teacher={"type": "timm", "model": "test_resnet", "input_size": 32, "num_classes": 3},
    ))  # fmt: skip
    with pytest.raises(UserError, match="the data set has none"):
        build(recipe, "train", torch.device("cpu"))


def test_a_student_fit_through_a_teacher_without_weights_is_warned_of(write_recipe) -> None:
    parts = build(load_recipe(write_recipe()), "train", torch.device("cpu"))  # the tiny recipe's teacher: random
    assert any("the teacher has no weights" in w for w in parts.warnings)
    pixel_only = build(load_recipe(write_recipe(losses=[{"type": "pixel_l1"}])), "train", torch.device("cpu"))
    assert not any("the teacher has no weights" in w for w in pixel_only.warnings)  # no loss reads it
