"""The teacher: a timm classifier that owns its differentiable preprocessing."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from kornia.geometry.transform import resize as kornia_resize

from srdistill.catalog import catalog
from srdistill.checkpoints import save_weights
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.teachers.base import Teacher
from srdistill.teachers.timm_teacher import TimmTeacherConfig, build_timm_teacher

GREY = DataInfo(channels=1, num_classes=10, hr_size=(28, 28), class_names=tuple("abcdefghij"))
RGB = DataInfo(channels=3, num_classes=5, hr_size=(40, 40), class_names=tuple("abcde"))


def config(**settings) -> TimmTeacherConfig:
    base = {
        "type": "timm",
        "model": "test_resnet",
        "input_size": 28,
        "crop_pct": 1.0,
        "mean": [0.5],
        "std": [0.25],
    }
    return TimmTeacherConfig(**{**base, **settings})


def build(info: DataInfo = GREY, **settings) -> Teacher:
    torch.manual_seed(0)
    return build_timm_teacher(config(**settings), info)


# -- the Teacher wrapper ----------------------------------------------------------------------------


class Recorder(torch.nn.Module):
    """Returns what it was given, so the preprocessing can be inspected."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_preprocess_resizes_and_normalises() -> None:
    teacher = Teacher(Recorder(), (16, 16), mean=[0.5, 0.25], std=[0.5, 0.25], interpolation="bilinear")
    torch.manual_seed(0)
    x = torch.rand(2, 2, 40, 30)
    out = teacher(x)
    assert out.shape == (2, 2, 16, 16)
    resized = kornia_resize(x, (16, 16), interpolation="bilinear", align_corners=False, antialias=True)
    expected = (resized - torch.tensor([0.5, 0.25]).view(1, 2, 1, 1)) / torch.tensor([0.5, 0.25]).view(1, 2, 1, 1)
    assert torch.allclose(out, expected, atol=1e-6)
    # a constant image maps to the normalised constant
    assert torch.allclose(teacher(torch.full((1, 2, 8, 8), 0.5))[:, 0], torch.zeros(1, 16, 16))
    assert torch.allclose(teacher(torch.full((1, 2, 8, 8), 0.5))[:, 1], torch.ones(1, 16, 16))


def test_crop_pct_resizes_then_centre_crops() -> None:
    teacher = Teacher(Recorder(), (28, 28), mean=[0.0], std=[1.0], interpolation="bicubic", crop_pct=0.875)
    assert teacher.resize_size == (32, 32)
    torch.manual_seed(0)
    x = torch.rand(1, 1, 50, 50)
    resized = kornia_resize(x, (32, 32), interpolation="bicubic", align_corners=False, antialias=True)
    assert torch.allclose(teacher(x), resized[..., 2:30, 2:30], atol=1e-6)


def test_crop_pct_of_the_paper() -> None:
    teacher = Teacher(Recorder(), (224, 224), mean=[0, 0, 0], std=[1, 1, 1], crop_pct=0.875)
    assert teacher.resize_size == (256, 256)
    assert teacher.preprocess(torch.rand(1, 3, 256, 256)).shape == (1, 3, 224, 224)


def test_preprocessing_summary_and_buffers() -> None:
    teacher = Teacher(Recorder(), (24, 24), mean=[0.1, 0.2, 0.3], std=[0.4, 0.5, 0.6], crop_pct=0.75)
    assert teacher.preprocessing() == {
        "input_size": [24, 24],
        "resize_size": [32, 32],
        "crop_pct": 0.75,
        "interpolation": "bilinear",
        "mean": [0.1, 0.2, 0.3],
        "std": [0.4, 0.5, 0.6],
    }
    assert teacher.state_dict() == {}  # mean/std are not saved with the weights


def test_frozen_teacher_passes_gradients_to_its_input() -> None:
    teacher = build().freeze()
    assert not teacher.training
    x = torch.rand(3, 1, 40, 40, requires_grad=True)
    teacher(x).pow(2).sum().backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert all(not p.requires_grad for p in teacher.parameters())
    assert x.grad is not None and x.grad.abs().sum() > 0


# -- building from timm -----------------------------------------------------------------------------


def test_built_from_the_registry_with_data_defaults() -> None:
    teacher = catalog().teachers.build(config(), GREY)
    assert isinstance(teacher, Teacher)
    assert teacher(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert teacher.input_size == (28, 28)
    assert teacher.preprocessing()["mean"] == [0.5] and teacher.preprocessing()["std"] == [0.25]


def test_explicit_classes_and_channels() -> None:
    teacher = build(GREY, num_classes=4, in_chans=3, mean=[0.5] * 3, std=[0.5] * 3)
    assert teacher(torch.rand(2, 3, 28, 28)).shape == (2, 4)


def test_defaults_come_from_timm() -> None:
    teacher = build(RGB, input_size=None, crop_pct=None, mean=None, std=None)
    data_cfg = timm.data.resolve_model_data_config(timm.create_model("test_resnet"))
    assert teacher.input_size == (data_cfg["input_size"][-1],) * 2
    assert teacher.crop_pct == pytest.approx(data_cfg["crop_pct"])
    assert teacher.preprocessing()["mean"] == pytest.approx(list(data_cfg["mean"]))
    assert teacher.interpolation == data_cfg["interpolation"]


def test_unknown_model_suggests() -> None:
    with pytest.raises(UserError) as info:
        build(model="resnet5O")
    assert "timm has no model 'resnet5O'" in str(info.value)
    assert "Did you mean 'resnet50'?" in str(info.value)


def test_mean_std_length_must_match_channels() -> None:
    with pytest.raises(UserError, match="mean/std have 3/3 values but the model takes 1 channels"):
        build(GREY, mean=None, std=None)  # test_resnet's defaults are RGB
    with pytest.raises(UserError, match="mean/std have 1/2 values"):
        build(GREY, std=[0.5, 0.5])


def test_model_args_reach_timm() -> None:
    teacher = build(model_args={"drop_rate": 0.5})
    assert teacher.model.drop_rate == 0.5


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_weights_roundtrip(tmp_path: Path, suffix: str) -> None:
    source = build()
    with torch.no_grad():  # make the BatchNorm statistics non-trivial too
        source.train()(torch.rand(8, 1, 28, 28))
    source.eval()
    path = tmp_path / f"teacher{suffix}"
    if suffix == ".safetensors":
        save_weights(source.model, path)
    else:
        torch.save(source.model.state_dict(), path)
    torch.manual_seed(123)
    loaded = build_timm_teacher(config(weights=path), GREY).eval()
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded(x), source(x))
        assert not torch.equal(build().eval()(x), source(x))


def test_weights_of_another_model(tmp_path: Path) -> None:
    path = tmp_path / "teacher.pth"
    torch.save(build(num_classes=3).model.state_dict(), path)
    with pytest.raises(UserError) as info:
        build(weights=path)
    assert "teacher.weights" in str(info.value) and "fc.weight: file (3, " in str(info.value)


# -- weights in other layouts -----------------------------------------------------------------------


def torchvision_resnet18_file(tmp_path: Path, drop_batch_counts: bool) -> tuple[Path, torch.nn.Module]:
    """A torchvision ResNet18 saved as torchvision publishes it (resnet18-f37072fd.pth)."""
    import torchvision

    torch.manual_seed(3)
    net = torchvision.models.resnet18(num_classes=5)
    with torch.no_grad():
        net.train()(torch.rand(4, 3, 64, 64))  # non-trivial BatchNorm statistics
    state = net.eval().state_dict()
    if drop_batch_counts:  # the original 2017 files predate num_batches_tracked
        state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "resnet18-tv.pth"
    torch.save(state, path)
    return path, net


@pytest.mark.parametrize("drop_batch_counts", [False, True])
def test_torchvision_resnet_weights_and_preprocessing(tmp_path: Path, drop_batch_counts: bool) -> None:
    """timm's resnet18.tv_in1k is torchvision's ResNet18: same keys, same outputs, its preprocessing."""
    path, net = torchvision_resnet18_file(tmp_path, drop_batch_counts)
    cfg = TimmTeacherConfig(type="timm", model="resnet18.tv_in1k", weights=path)
    teacher = build_timm_teacher(cfg, RGB).eval()
    assert teacher.preprocessing()["input_size"] == [224, 224]
    assert teacher.preprocessing()["resize_size"] == [256, 256]
    assert teacher.interpolation == "bilinear"
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(teacher.model(x), net(x), atol=1e-5)


def test_rgb_weights_adapted_to_a_grey_teacher_by_timm(tmp_path: Path) -> None:
    path, net = torchvision_resnet18_file(tmp_path, drop_batch_counts=False)
    cfg = TimmTeacherConfig(type="timm", model="resnet18.tv_in1k", weights=path, in_chans=1, mean=[0.5], std=[0.5])
    teacher = build_timm_teacher(cfg, GREY.__class__(1, 5, (28, 28), tuple("abcde")))
    # timm's adapt_input_conv sums the RGB filters into one grey filter
    expected = net.conv1.weight.sum(dim=1, keepdim=True)
    assert torch.allclose(teacher.model.conv1.weight, expected, atol=1e-6)
    assert torch.equal(teacher.model.fc.weight, net.fc.weight)  # the classifier is kept


def test_a_file_neither_loader_accepts_lists_the_keys(tmp_path: Path) -> None:
    path, _ = torchvision_resnet18_file(tmp_path, drop_batch_counts=False)
    state = torch.load(path, weights_only=True)
    state["fc.extra"] = torch.zeros(1)
    del state["layer4.1.bn2.weight"]
    torch.save(state, path)
    with pytest.raises(UserError) as info:
        build_timm_teacher(TimmTeacherConfig(type="timm", model="resnet18.tv_in1k", weights=path), RGB)
    text = str(info.value)
    assert "missing (1): layer4.1.bn2.weight" in text and "unexpected (1): fc.extra" in text


def test_a_classifier_of_other_size_is_an_error_not_a_reset(tmp_path: Path) -> None:
    path, _ = torchvision_resnet18_file(tmp_path, drop_batch_counts=False)  # 5 classes
    cfg = TimmTeacherConfig(type="timm", model="resnet18.tv_in1k", weights=path, num_classes=7)
    with pytest.raises(UserError, match=r"fc.weight: file \(5, 512\) vs model \(7, 512\)"):
        build_timm_teacher(cfg, RGB)
