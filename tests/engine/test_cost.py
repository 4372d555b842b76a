"""What a run computes, counted before it trains: the training FLOPs a study budgets with, and inference FLOPs."""

from __future__ import annotations

import pytest
import torch

from srdistill.engine.build import build
from srdistill.engine.cost import (
    classifier_step_flops,
    count_flops,
    inference_flops,
    on_meta,
    student_step_flops,
    training_cost,
)
from srdistill.recipe import load_recipe

JOINT = {"fit": "joint", "epochs": 2, "batch_size": 16, "mix_grid": 4}


def test_a_student_fit_costs_its_step_times_batch_times_steps(write_recipe) -> None:
    recipe = load_recipe(write_recipe())  # 240 training images, batch 16, 2 steps an epoch, 1 epoch
    parts = build(recipe, "train", torch.device("cpu"))
    cost = training_cost(recipe, parts)
    assert (cost.batch_size, cost.steps_per_epoch, cost.epochs, cost.steps) == (16, 2, 1, 2)
    assert cost.step_flops_per_image == student_step_flops(recipe, parts) > 0
    assert cost.flops == cost.step_flops_per_image * 16 * 2


def test_without_a_step_limit_an_epoch_is_every_whole_batch(write_recipe) -> None:
    train = {"epochs": 3, "batch_size": 50, "optimizer": {"name": "adam", "lr": 1e-3}}
    recipe = load_recipe(write_recipe(train=train))
    parts = build(recipe, "train", torch.device("cpu"))
    train_images = len(parts.data.train)
    assert training_cost(recipe, parts).steps == 3 * (train_images // 50)  # the last partial batch is dropped


def test_a_joint_step_is_the_students_update_and_the_classifiers_on_three_images(write_recipe) -> None:
    recipe = load_recipe(write_recipe(train=JOINT))
    parts = build(recipe, "train", torch.device("cpu"))
    cost = training_cost(recipe, parts)
    assert cost.step_flops_per_image == student_step_flops(recipe, parts) + classifier_step_flops(recipe, parts)
    teacher = on_meta(parts.teacher).eval().requires_grad_(True)
    one = count_flops(lambda: teacher(torch.zeros(1, 1, 28, 28, device="meta")).sum().backward())
    assert classifier_step_flops(recipe, parts) == pytest.approx(3 * one, rel=0.01)  # SR, original, mix


def test_a_teacher_fit_counts_no_student(write_recipe) -> None:
    recipe = load_recipe(write_recipe(student=None, losses=None, train={"fit": "teacher", "batch_size": 16}))
    parts = build(recipe, "train", torch.device("cpu"))
    assert training_cost(recipe, parts).step_flops_per_image == classifier_step_flops(recipe, parts)


def test_inference_is_the_classifier_alone_or_with_the_students_upscale(write_recipe) -> None:
    recipe = load_recipe(write_recipe())
    parts = build(recipe, "train", torch.device("cpu"))
    alone, with_sr = inference_flops(parts, sr=False), inference_flops(parts, sr=True)
    teacher = on_meta(parts.teacher).eval()
    assert alone == count_flops(lambda: teacher(torch.zeros(1, 1, 28, 28, device="meta")))
    student = on_meta(parts.student)
    assert with_sr - alone == count_flops(lambda: student.upscale(torch.zeros(1, 1, 9, 9, device="meta"))) > 0
