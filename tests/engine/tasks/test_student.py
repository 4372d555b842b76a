"""The student task: one optimisation problem through the frozen teacher."""

from __future__ import annotations

import pytest
import torch

from srdistill.engine.build import build
from srdistill.engine.tasks import StudentTask, make_task
from srdistill.recipe import load_recipe


@pytest.mark.parametrize("loss", ["logit_mse", "kl", "ce_gap", "pixel_l1"])
def test_student_fit_descends_through_the_frozen_teacher(write_recipe, fixed_batch, loss: str) -> None:
    recipe = load_recipe(write_recipe(losses=[{"type": loss}]))
    torch.manual_seed(0)
    parts = build(recipe, "train", torch.device("cpu"))
    task = make_task(recipe, parts)
    assert isinstance(task, StudentTask)
    [network] = task.networks
    assert (network.name, network.role, network.module) == ("student", "student", parts.student.net)
    teacher_before = {k: v.clone() for k, v in parts.teacher.state_dict().items()}
    batch = fixed_batch(parts)
    optimizer = torch.optim.Adam(network.module.parameters(), lr=1e-3)
    values = []
    for _ in range(15):
        out = task.forward(batch, "student")
        assert set(out) == {loss, "loss"}
        optimizer.zero_grad()
        out["loss"].backward()
        assert all(p.grad is None for p in parts.teacher.parameters())
        assert sum(p.grad.abs().sum() for p in network.module.parameters()) > 0
        optimizer.step()
        values.append(out["loss"].item())
    assert values[-1] < values[0]
    for k, v in parts.teacher.state_dict().items():  # frozen, BatchNorm statistics included
        assert torch.equal(v, teacher_before[k]), k


def test_the_cache_gives_the_teachers_logits_on_the_originals(write_recipe, fixed_batch) -> None:
    """With runtime.cache_teacher the second pass over a batch reads the logits the first one stored."""
    recipe = load_recipe(write_recipe(), ["runtime.cache_teacher=true"])
    parts = build(recipe, "train", torch.device("cpu"))
    task = make_task(recipe, parts)
    assert isinstance(task, StudentTask) and task.cache is not None
    batch = fixed_batch(parts)
    first = task.forward(batch, "student")["loss"]
    assert task.cache.get(batch.index) is not None
    again = task.forward(batch, "student")["loss"]
    torch.testing.assert_close(first, again)


def test_preview_is_original_degraded_and_sr(write_recipe, fixed_batch) -> None:
    recipe = load_recipe(write_recipe())
    task = make_task(recipe, build(recipe, "train", torch.device("cpu")))
    grid = task.preview(torch.rand(2, 1, 28, 28))
    assert grid.shape[0] == 3 and task.student.training  # a picture, and the student's mode restored
