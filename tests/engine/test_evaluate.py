"""Metric rows over the one pass: the teacher in evaluation mode, no graph kept, its mode restored."""

from __future__ import annotations

import math

import torch

from srdistill.data.base import DataInfo

GREY = DataInfo(channels=1, num_classes=10, hr_size=(28, 28), class_names=tuple("abcdefghij"))


def test_evaluate_restores_the_teacher_mode_and_keeps_no_graph() -> None:
    from torch.utils.data import DataLoader, TensorDataset

    from srdistill.catalog import catalog
    from srdistill.data.base import collate
    from srdistill.degradations.resize import Downscale
    from srdistill.engine.evaluate import evaluate
    from srdistill.students.interpolation import BicubicConfig
    from srdistill.teachers.timm_teacher import TimmTeacherConfig

    teacher = catalog().teachers.build(
        TimmTeacherConfig(type="timm", model="test_resnet", input_size=28, crop_pct=1.0, mean=[0.5], std=[0.5]),
        GREY,
    )
    teacher.train()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    images = torch.randint(0, 256, (10, 1, 28, 28), dtype=torch.uint8)
    loader = DataLoader(TensorDataset(images, torch.arange(10) % 10), batch_size=4, collate_fn=collate)
    bicubic = catalog().students.build(BicubicConfig(type="bicubic"), GREY)
    rows = evaluate(loader, teacher, Downscale(0.32), {"bicubic": bicubic}, ["top1", "psnr"], torch.device("cpu")).rows
    assert teacher.training  # restored
    for k, v in teacher.state_dict().items():  # evaluated in eval mode: BatchNorm statistics untouched
        assert torch.equal(v, before[k]), k
    assert rows["original"].images == rows["bicubic"].images == 10
    assert rows["original"].metrics["psnr"] == math.inf
