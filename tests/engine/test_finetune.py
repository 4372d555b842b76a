"""Fine-tuning the teacher to a new label set: relabelled data, a fresh classifier, a frozen backbone."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import load_file

from srdistill.checkpoints import save_weights
from srdistill.data.base import DataInfo, Relabel, relabel
from srdistill.data.fashion_mnist import FashionMNISTConfig, build_fashion_mnist
from srdistill.errors import UserError
from srdistill.teachers.timm_teacher import TimmTeacherConfig, build_timm_teacher, classifier_names

COARSE = {"names": ["top", "trouser", "dress", "footwear", "bag"],
          "map": {0: 0, 1: 1, 2: 0, 3: 2, 4: 0, 5: 3, 6: 0, 7: 3, 8: 4, 9: 3}}  # fmt: skip


def test_relabel_maps_every_split(fmnist_root: Path) -> None:
    splits = build_fashion_mnist(FashionMNISTConfig(type="fashion_mnist", root=fmnist_root, val_size=40))
    coarse = relabel(splits, Relabel(**COARSE))
    assert coarse.info.num_classes == 5 and coarse.info.class_names[3] == "footwear"
    for name in ("train", "val", "test"):
        before, after = getattr(splits, name), getattr(coarse, name)
        assert len(before) == len(after)
        for i in range(0, len(before), 7):
            assert after[i][1] == COARSE["map"][before[i][1]]
            assert torch.equal(after[i][0], before[i][0])


def test_relabel_must_place_every_class(fmnist_root: Path) -> None:
    splits = build_fashion_mnist(FashionMNISTConfig(type="fashion_mnist", root=fmnist_root, val_size=40))
    with pytest.raises(UserError, match="does not say where 2 classes go"):
        relabel(splits, Relabel(names=["a"], map={i: 0 for i in range(8)}))
    with pytest.raises(ValueError, match="map sends classes to"):
        Relabel(names=["a"], map={0: 3})


def test_new_classifier_keeps_the_backbone(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = timm.create_model("test_resnet", num_classes=10, in_chans=1)
    save_weights(source, tmp_path / "t.safetensors")
    info = DataInfo(1, 5, (28, 28), tuple("abcde"))
    cfg = TimmTeacherConfig(
        type="timm", model="test_resnet", weights=tmp_path / "t.safetensors", new_classifier=True,
        input_size=28, crop_pct=1.0, mean=[0.5], std=[0.5],
    )  # fmt: skip
    teacher = build_timm_teacher(cfg, info)
    head = set(classifier_names(teacher.model))
    assert head == {"fc.weight", "fc.bias"}
    for key, value in teacher.model.state_dict().items():
        if key not in head:
            assert torch.equal(value, source.state_dict()[key]), key
    assert teacher.model.fc.weight.shape == (5, teacher.model.fc.weight.shape[1])
    with pytest.raises(UserError, match=r"fc.weight: file \(10, "):  # without the switch: a clear error
        build_timm_teacher(cfg.model_copy(update={"new_classifier": False}), info)


def test_head_only_fine_tuning_changes_only_the_classifier(cli, write_recipe, tmp_path, fmnist_root) -> None:
    torch.manual_seed(0)
    source = timm.create_model("test_resnet", num_classes=10, in_chans=1)
    save_weights(source, tmp_path / "t.safetensors")
    recipe = write_recipe(
        student=None,
        losses=None,
        data={"type": "fashion_mnist", "root": str(fmnist_root), "val_size": 40, "relabel": COARSE},
        teacher={
            "type": "timm", "model": "test_resnet", "weights": str(tmp_path / "t.safetensors"), "new_classifier": True,
            "input_size": 28, "crop_pct": 1.0, "mean": [0.5], "std": [0.5],
        },
        train={"fit": "teacher", "trainable": "head", "epochs": 1, "batch_size": 16, "max_steps_per_epoch": 3,
               "optimizer": {"name": "adam", "lr": 1e-2}},
    )  # fmt: skip
    result = cli("train", recipe)
    assert result.exit_code == 0, result.output
    tuned = load_file(str(tmp_path / "runs" / "tiny" / "last.safetensors"))
    assert tuned["fc.weight"].shape[0] == 5
    for key, value in source.state_dict().items():
        if not key.startswith("fc."):  # backbone weights and BatchNorm statistics untouched
            assert torch.equal(tuned[key], value), key
