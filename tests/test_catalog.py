"""Every registered student, teacher, loss and degradation, run on tiny tensors.

Components come from the registries (built-ins, and the example plugin when it is installed),
each in its ``tiny()`` configuration: registering a component is what puts it under test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srdistill.catalog import catalog
from srdistill.data.base import DataInfo
from srdistill.engine.sr_pass import sr_pass
from srdistill.losses.base import LossInputs
from srdistill.methods import ORIGINAL
from srdistill.registry import ComponentConfig
from srdistill.students.rrdb import RRDBConfig
from srdistill.teachers.timm_teacher import TimmTeacherConfig

INFO = DataInfo(channels=3, num_classes=10, hr_size=(32, 32), class_names=tuple("abcdefghij"))
SECTIONS = ("students", "teachers", "losses", "degradations")
ENTRIES = [(section, name) for section in SECTIONS for name in catalog().registries()[section].names()]


def tiny(section: str, name: str, folder: Path) -> ComponentConfig:
    entry = catalog().registries()[section].get(name)
    assert entry.config is not None
    config = entry.config.tiny(folder)
    assert config is not None, f"{section} '{name}' needs a tiny() configuration to be tested"
    return config


def originals(seed: int = 0) -> torch.Tensor:
    return torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("section", "name"), ENTRIES, ids=[f"{s}-{n}" for s, n in ENTRIES])
def test_every_component_has_a_tiny_configuration(section: str, name: str, tmp_path: Path) -> None:
    config = tiny(section, name, tmp_path)
    assert config.type == name


@pytest.mark.parametrize("name", catalog().students.names())
def test_student_forward_and_backward(name: str, tmp_path: Path) -> None:
    student = catalog().students.build(tiny("students", name, tmp_path), INFO)
    lr = torch.rand(2, 3, 8, 8, requires_grad=True)
    sr = student(lr, (32, 32))
    assert sr.shape == (2, 3, 32, 32) and torch.isfinite(sr).all()
    sr.square().mean().backward()
    assert lr.grad is not None and lr.grad.abs().sum() > 0
    for p in student.net.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()


@pytest.mark.parametrize("name", catalog().teachers.names())
def test_teacher_passes_gradients_to_its_input_not_its_weights(name: str, tmp_path: Path) -> None:
    """What distillation needs: the frozen teacher's weights get no gradient, the SR image does."""
    teacher = catalog().teachers.build(tiny("teachers", name, tmp_path), INFO).freeze()
    images = originals().requires_grad_(True)
    out = teacher(images)
    assert out.shape[0] == 2 and torch.isfinite(out).all()
    if teacher.outputs_classes:
        assert out.shape == (2, 10)
    out.square().mean().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters())


@pytest.mark.parametrize("name", catalog().losses.names())
def test_loss_trains_the_student_through_the_teacher(name: str, tmp_path: Path) -> None:
    """Each loss in the one degrade → SR → teacher pass training uses: finite, and a gradient for the student."""
    cat = catalog()
    loss = cat.losses.build(tiny("losses", name, tmp_path))
    teacher = cat.teachers.build(TimmTeacherConfig.tiny(tmp_path), INFO).freeze()
    student = cat.students.build(RRDBConfig.tiny(tmp_path), INFO)
    degradation = cat.degradations.build(cat.degradations.get("bicubic").config.tiny(tmp_path))  # type: ignore[union-attr]
    hr, labels = originals(), torch.tensor([1, 7])
    batch = sr_pass(hr, labels, degradation, teacher if loss.needs_teacher or loss.teacher_layers else None,
                    {"student": student}, clamp=False, layers=loss.teacher_layers)  # fmt: skip
    ref, seen = batch.teacher.get(ORIGINAL), batch.teacher.get("student")
    value = loss(LossInputs(
        hr, batch.sr["student"], labels, ref.logits if ref else None, seen.logits if seen else None,
        ref.features if ref else None, seen.features if seen else None,
    ))  # fmt: skip
    assert value.ndim == 0 and torch.isfinite(value)
    value.backward()
    grads = [p.grad for p in student.net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0
    assert all(p.grad is None for p in teacher.parameters())


@pytest.mark.parametrize("name", catalog().degradations.names())
def test_degradation_output(name: str, tmp_path: Path) -> None:
    """Degradations run without gradients (they make the student's input): shape, range, no NaN."""
    degradation = catalog().degradations.build(tiny("degradations", name, tmp_path))
    with torch.no_grad():
        lr = degradation(originals())
    expected = degradation.output_size((32, 32)) if hasattr(degradation, "output_size") else (32, 32)
    assert lr.shape == (2, 3, *expected)
    assert torch.isfinite(lr).all() and lr.min() >= -0.01 and lr.max() <= 1.01
