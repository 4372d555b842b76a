"""The teacher task: cross-entropy on the originals, all weights or only the head."""

from __future__ import annotations

import pytest
import torch

from srdistill.engine.build import build
from srdistill.engine.tasks import TeacherTask, make_task
from srdistill.engine.tasks.teacher import classifier_head
from srdistill.recipe import load_recipe


def test_teacher_fit_descends(write_recipe, fixed_batch) -> None:
    recipe = load_recipe(write_recipe(student=None, losses=None, train={"fit": "teacher", "label_smoothing": 0.1}))
    torch.manual_seed(0)
    parts = build(recipe, "train", torch.device("cpu"))
    task = make_task(recipe, parts)
    assert isinstance(task, TeacherTask)
    [network] = task.networks
    assert (network.name, network.role, network.module) == ("teacher", "teacher", parts.teacher.model)
    batch = fixed_batch(parts)
    optimizer = torch.optim.Adam(network.module.parameters(), lr=1e-3)
    values = []
    for _ in range(10):
        loss = task.forward(batch, "teacher")["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        values.append(loss.item())
    assert values[-1] < 0.5 * values[0]


def test_head_only_trains_the_classifier_and_keeps_the_backbone_statistics(write_recipe) -> None:
    recipe = load_recipe(write_recipe(student=None, losses=None, train={"fit": "teacher", "trainable": "head"}))
    parts = build(recipe, "train", torch.device("cpu"))
    task = make_task(recipe, parts)
    head = classifier_head(parts.teacher.model)
    trainable = {id(p) for p in parts.teacher.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in head.parameters()}
    task.train_mode()
    assert head.training and not parts.teacher.model.conv1.training  # backbone BatchNorm stays in eval


def test_degraded_inputs_train_and_validate_on_what_the_classifier_sees_without_sr(write_recipe, fixed_batch) -> None:
    from torch.utils.data import DataLoader

    from srdistill.data.base import collate

    train = {"fit": "teacher", "inputs": "degraded"}
    recipe = load_recipe(write_recipe(student=None, losses=None, train=train))
    torch.manual_seed(0)
    parts = build(recipe, "train", torch.device("cpu"))
    task = make_task(recipe, parts)
    batch = fixed_batch(parts)
    parts.teacher.eval()
    seen = task.forward(batch, "teacher")["loss"]
    with torch.no_grad():
        lr = parts.degradation(batch.hr)
        upscaled = torch.nn.functional.interpolate(lr, size=(28, 28), mode="bicubic", align_corners=False)
        upscaled = upscaled.clamp(0, 1)
        expected = torch.nn.functional.cross_entropy(parts.teacher(upscaled), batch.labels)
        on_originals = torch.nn.functional.cross_entropy(parts.teacher(batch.hr), batch.labels)
    assert seen.item() == pytest.approx(expected.item(), rel=1e-4) and seen.item() != on_originals.item()
    loader = DataLoader(parts.data.val, batch_size=20, collate_fn=collate)
    values = task.validate(loader, None)
    assert task.row == "bicubic" and {"top1", "ce", "original_top1"} <= set(values)


def test_mixed_inputs_show_each_image_degraded_or_original_at_even_odds(write_recipe, fixed_batch) -> None:
    recipe = load_recipe(write_recipe(student=None, losses=None, train={"fit": "teacher", "inputs": "mixed"}))
    parts = build(recipe, "train", torch.device("cpu"))
    task = make_task(recipe, parts)
    batch = fixed_batch(parts)
    seen: list[torch.Tensor] = []
    handle = parts.teacher.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    torch.manual_seed(3)
    task.forward(batch, "teacher")
    handle.remove()
    with torch.no_grad():
        lr = parts.degradation(batch.hr)
        upscaled = torch.nn.functional.interpolate(lr, size=(28, 28), mode="bicubic", align_corners=False).clamp(0, 1)
    [images] = seen
    original = (images - batch.hr).flatten(1).abs().amax(1) == 0
    degraded = (images - upscaled).flatten(1).abs().amax(1) < 1e-5
    assert bool((original ^ degraded).all())  # every image is exactly one of the two
    assert 0 < int(original.sum()) < len(images)  # and both kinds occur in one batch
    assert task.row == "bicubic"  # validated on the degraded images, as the degraded fit is
