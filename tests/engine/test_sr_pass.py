"""The one degrade → SR → classify pass: what each classifier sees, and where gradients flow."""

from __future__ import annotations

from pathlib import Path

import torch

from srdistill.catalog import catalog
from srdistill.data.base import DataInfo
from srdistill.engine.sr_pass import ClassifierOutput, sr_pass
from srdistill.methods import ORIGINAL
from srdistill.students.rrdb import RRDBConfig
from srdistill.teachers.timm_teacher import TimmTeacherConfig

INFO = DataInfo(channels=3, num_classes=10, hr_size=(32, 32), class_names=tuple("abcdefghij"))


def parts(tmp_path: Path):  # type: ignore[no-untyped-def]
    cat = catalog()
    torch.manual_seed(0)
    teacher = cat.teachers.build(TimmTeacherConfig.tiny(tmp_path), INFO).freeze()
    other = cat.teachers.build(TimmTeacherConfig.tiny(tmp_path), INFO).freeze()
    student = cat.students.build(RRDBConfig.tiny(tmp_path), INFO)
    degradation = cat.degradations.build(cat.degradations.get("bicubic").config.tiny(tmp_path))  # type: ignore[union-attr]
    return teacher, other, student, degradation


def test_every_classifier_sees_the_same_rows_and_the_student_learns_through_them(tmp_path: Path) -> None:
    teacher, other, student, degradation = parts(tmp_path)
    hr = torch.rand(2, 3, 32, 32)
    batch = sr_pass(hr, torch.tensor([1, 2]), degradation, teacher, {"student": student}, clamp=False,
                    classifiers={"other": other})  # fmt: skip
    assert batch.lr.shape[-1] < 32 and batch.sr["student"].shape == hr.shape
    assert set(batch.teacher) == set(batch.classifiers["other"]) == {ORIGINAL, "student"}
    assert not batch.teacher[ORIGINAL].logits.requires_grad  # the originals never keep a graph
    assert not batch.classifiers["other"][ORIGINAL].logits.requires_grad
    with torch.no_grad():
        torch.testing.assert_close(batch.classifiers["other"]["student"].logits, other(batch.sr["student"]))
    (batch.teacher["student"].logits.sum() + batch.classifiers["other"]["student"].logits.sum()).backward()
    assert all(p.grad is not None for p in student.net.parameters())
    assert all(p.grad is None for p in [*teacher.parameters(), *other.parameters()])


def test_evaluation_clamps_and_a_cached_original_is_used_as_given(tmp_path: Path) -> None:
    teacher, _, student, degradation = parts(tmp_path)
    hr = torch.rand(2, 3, 32, 32)
    cached = ClassifierOutput(torch.full((2, 10), 7.0))
    with torch.no_grad():
        batch = sr_pass(hr, torch.tensor([0, 0]), degradation, teacher, {"student": student}, original=cached)
    assert batch.teacher[ORIGINAL] is cached
    assert float(batch.sr["student"].min()) >= 0.0 and float(batch.sr["student"].max()) <= 1.0


def test_without_a_teacher_only_the_images_are_made(tmp_path: Path) -> None:
    _, _, student, degradation = parts(tmp_path)
    batch = sr_pass(torch.rand(1, 3, 32, 32), torch.tensor([0]), degradation, None, {"student": student})
    assert batch.teacher == {} and batch.classifiers == {} and "student" in batch.sr
