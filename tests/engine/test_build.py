"""The one builder: what a recipe names, on its device, in its memory format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srdistill.checkpoints import read_state_dict
from srdistill.engine.build import build
from srdistill.recipe import load_recipe


def test_a_student_fit_freezes_the_teacher_and_a_teacher_fit_does_not(write_recipe) -> None:
    parts = build(load_recipe(write_recipe()), "train", torch.device("cpu"))
    assert not parts.teacher.training and not any(p.requires_grad for p in parts.teacher.parameters())
    assert parts.student is not None and parts.loss is not None and parts.methods == {}
    recipe = load_recipe(write_recipe(student=None, losses=None, train={"fit": "teacher"}))
    parts = build(recipe, "train", torch.device("cpu"))
    assert all(p.requires_grad for p in parts.teacher.parameters()) and parts.student is None


def test_evaluation_builds_the_baselines_and_judges(write_recipe) -> None:
    judge = {"name": "j", "teacher": {"type": "timm", "model": "test_resnet", "input_size": 28, "mean": [0.5],
                                      "std": [0.5]}}  # fmt: skip
    parts = build(load_recipe(write_recipe(compare={"judges": [judge]})), "evaluate", torch.device("cpu"))
    assert list(parts.methods) == ["bilinear", "bicubic"] and list(parts.judges) == ["j"]
    assert parts.student is None and not parts.teacher.training


@pytest.mark.parametrize("channels_last", [True, False])
def test_runtime_memory_format(write_recipe, tmp_path: Path, channels_last: bool) -> None:
    """runtime.channels_last changes the memory layout only: same outputs, same saved weights."""
    from srdistill.checkpoints import save_weights

    recipe = load_recipe(write_recipe(), [f"runtime.channels_last={str(channels_last).lower()}"])
    assert recipe.runtime.channels_last is channels_last
    torch.manual_seed(0)
    parts = build(recipe, "train", torch.device("cpu"))
    for model in (parts.student, parts.teacher):
        # a 3×3 convolution over several channels: its layouts differ (a 1-channel one has both)
        conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
        assert conv.kernel_size == (3, 3)
        assert conv.weight.is_contiguous(memory_format=torch.channels_last) is channels_last

    torch.manual_seed(0)
    reference = build(load_recipe(write_recipe(), ["runtime.channels_last=false"]), "train", torch.device("cpu"))
    lr = torch.rand(2, 1, 9, 9)
    with torch.no_grad():
        sr = parts.student(lr, (28, 28))
        assert torch.allclose(sr, reference.student(lr, (28, 28)), atol=1e-5)
        assert torch.allclose(parts.teacher.eval()(sr), reference.teacher.eval()(sr), atol=1e-4)
    save_weights(parts.student.net, tmp_path / "s.safetensors")
    saved = read_state_dict(tmp_path / "s.safetensors")
    for k, v in reference.student.net.state_dict().items():
        assert torch.equal(saved[k], v), k
