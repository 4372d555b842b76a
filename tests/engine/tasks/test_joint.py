"""The joint fit (SR4IR): the student's update through the classifier, then the classifier's cross-entropy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from srdistill.checkpoints import save_weights
from srdistill.engine.build import build
from srdistill.engine.tasks import JointTask, make_task
from srdistill.engine.tasks.joint import cqmix
from srdistill.recipe import load_recipe

JOINT = {"fit": "joint", "epochs": 2, "batch_size": 16, "max_steps_per_epoch": 2, "val_batch_size": 64,
         "log_every": 1, "student": {"optimizer": {"name": "adam", "lr": 1e-3}},
         "classifier": {"optimizer": {"name": "adam", "lr": 1e-3}}}  # fmt: skip


def joint_recipe(write_recipe, tmp_path: Path, **train: Any) -> Path:
    import timm

    teacher = tmp_path / "teacher.safetensors"
    torch.manual_seed(3)
    save_weights(timm.create_model("test_resnet", num_classes=10, in_chans=1), teacher, {"role": "teacher"})
    path = write_recipe(train=JOINT | train, losses=[{"type": "logit_mse"}, {"type": "pixel_l1", "weight": 0.5}])
    raw = path.read_text().replace("teacher:\n", f"teacher:\n  weights: {teacher}\n", 1)
    path.write_text(raw)
    return path


def test_each_update_reaches_its_own_network_only(write_recipe, fixed_batch, tmp_path: Path) -> None:
    recipe = load_recipe(joint_recipe(write_recipe, tmp_path))
    parts = build(recipe, "train", torch.device("cpu"))
    task = make_task(recipe, parts)
    assert isinstance(task, JointTask)
    assert [(n.name, n.role) for n in task.networks] == [("student", "student"), ("classifier", "teacher")]
    student, classifier = (n.module for n in task.networks)
    batch = fixed_batch(parts)
    task.train_mode()
    out = task.forward(batch, "student")
    assert set(out) == {"logit_mse", "pixel_l1", "loss"} and batch.sr is not None
    out["loss"].backward()
    assert all(p.grad is None for p in classifier.parameters())  # frozen for the student's update
    assert any(p.grad is not None for p in student.parameters())
    assert not parts.teacher.training  # in evaluation mode for it
    student.zero_grad(set_to_none=True)
    out = task.forward(batch, "classifier")
    assert set(out) == {"ce_sr", "ce_original", "ce_mix", "loss"}
    out["loss"].backward()
    assert all(p.grad is None for p in student.parameters())  # the SR images are detached
    assert all(p.grad is not None for p in classifier.parameters())
    assert parts.teacher.training


def test_the_warm_up_trains_the_student_on_pixels_only(write_recipe, fixed_batch, tmp_path: Path) -> None:
    recipe = load_recipe(joint_recipe(write_recipe, tmp_path, task_warmup_epochs=1))
    parts = build(recipe, "train", torch.device("cpu"))
    task = make_task(recipe, parts)
    batch = fixed_batch(parts)
    warm = task.forward(batch, "student")
    assert warm["logit_mse"].item() == 0.0 and warm["loss"].item() == pytest.approx(0.5 * warm["pixel_l1"].item())
    batch.epoch = 2
    after = task.forward(batch, "student")
    assert after["logit_mse"].item() > 0


def test_cqmix_takes_each_patch_from_one_image() -> None:
    torch.manual_seed(0)
    sr, hr = torch.zeros(8, 1, 28, 28), torch.ones(8, 1, 28, 28)
    mix = cqmix(sr, hr, 4)
    patches = mix.unfold(2, 7, 7).unfold(3, 7, 7)  # (8, 1, 4, 4, 7, 7)
    assert (patches.amin((-1, -2)) == patches.amax((-1, -2))).all()  # whole patches
    assert 0 < mix.mean().item() < 1  # from both


def test_a_joint_run_saves_both_networks_and_never_the_teachers_file(cli, write_recipe, tmp_path: Path) -> None:
    recipe = joint_recipe(write_recipe, tmp_path)
    teacher_file = tmp_path / "teacher.safetensors"
    before = teacher_file.read_bytes()
    result = cli("train", recipe)
    assert result.exit_code == 0, result.output
    assert "fit joint (student, classifier)" in result.output
    run = tmp_path / "runs" / "tiny"
    for name in ("best", "last", "classifier_best", "classifier_last"):
        assert (run / f"{name}.safetensors").is_file(), name
    assert teacher_file.read_bytes() == before
    classifier = load_file(str(run / "classifier_last.safetensors"))
    assert any(not torch.equal(v, load_file(str(teacher_file))[k]) for k, v in classifier.items())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["fit"] == "joint" and set(summary["networks"]) == {"student", "classifier"}
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    for column in ("lr_student", "lr_classifier", "train_student_loss", "train_classifier_ce_mix", "val_top1",
                   "val_original_top1", "nonfinite_steps_classifier"):  # fmt: skip
        assert column in header, column


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.mix_grid=5", "train.mix_grid 5 does not divide the images (28×28)"),
        ("train.task_warmup_epochs=2", "task_warmup_epochs (2) leaves no epoch"),
        ("runtime.cache_teacher=true", "a joint fit trains the classifier"),
        ("losses=[{type: feature, layers: [nowhere]}]", "no layer 'nowhere'"),
        ("train.ce={sr: 0, original: 0, mix: 0}", "every cross-entropy term has weight 0"),
    ],
)
def test_bad_joint_recipes_stop_the_dry_run(cli, write_recipe, tmp_path: Path, flatten, override: str,
                                            expected: str) -> None:  # fmt: skip
    result = cli("train", joint_recipe(write_recipe, tmp_path), "--dry-run", "--set", override)
    assert result.exit_code == 1 and expected in flatten(result.output), result.output
    assert not (tmp_path / "runs").exists()


def test_the_warm_up_needs_a_pixel_loss(cli, write_recipe, tmp_path: Path, flatten) -> None:
    path = joint_recipe(write_recipe, tmp_path, task_warmup_epochs=1)
    result = cli("train", path, "--dry-run", "--set", "losses=[{type: logit_mse}]")
    assert result.exit_code == 1 and "every loss reads the classifier" in flatten(result.output)


def test_the_plan_counts_both_updates(cli, write_recipe, tmp_path: Path) -> None:
    result = cli("train", joint_recipe(write_recipe, tmp_path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "training step (classifier fwd+bwd on 3 images" in result.output and "state MiB" in result.output
