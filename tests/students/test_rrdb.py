"""The RRDB student: basicsr's RRDBNet, then a resize to the original's size."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srdistill.catalog import catalog
from srdistill.checkpoints import save_weights
from srdistill.compat.basicsr import rrdbnet_class
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.students.base import SuperResolver
from srdistill.students.rrdb import RRDBConfig, build_rrdb

SMALL = {"num_feat": 8, "num_block": 1, "num_grow_ch": 4}
GREY = DataInfo(channels=1, num_classes=10, hr_size=(28, 28), class_names=tuple("abcdefghij"))
RGB = DataInfo(channels=3, num_classes=3, hr_size=(40, 40), class_names=("a", "b", "c"))

# students of every registered type, small where they have sizes; new types must be added here
STUDENT_SETTINGS = {"rrdb": SMALL, "bicubic": {}, "bilinear": {}}


def small_rrdb(info: DataInfo = GREY, **settings) -> SuperResolver:
    torch.manual_seed(0)
    return build_rrdb(RRDBConfig(type="rrdb", **{**SMALL, **settings}), info)


def basicsr_net(channels: int = 1):
    torch.manual_seed(1)
    return rrdbnet_class()(channels, channels, scale=4, **SMALL)


def test_every_built_in_student_type_has_settings_here() -> None:
    built_in = {e.name for e in catalog().students if e.source == "srdistill"}
    assert set(STUDENT_SETTINGS) == built_in - {"spandrel"}  # spandrel needs a file: tests/students/test_spandrel.py


@pytest.mark.parametrize("name", sorted(STUDENT_SETTINGS))
@pytest.mark.parametrize(("info", "lr_hw", "hr_hw"), [(GREY, (9, 9), (28, 28)), (RGB, (13, 20), (40, 64))])
def test_every_student_returns_the_requested_size(name, info, lr_hw, hr_hw) -> None:
    entry = catalog().students.get(name)
    assert entry.config is not None
    student = entry.build(entry.config(type=name, **STUDENT_SETTINGS[name]), info)
    assert isinstance(student, SuperResolver)
    lr = torch.rand(2, info.channels, *lr_hw, requires_grad=True)
    sr = student(lr, hr_hw)
    assert sr.shape == (2, info.channels, *hr_hw)
    sr.mean().backward()
    assert lr.grad is not None and lr.grad.abs().sum() > 0


@pytest.mark.parametrize("scale", [4, 2, 1])
def test_network_scale(scale: int) -> None:
    lr_hw = (12, 8)  # basicsr's pixel-unshuffle (scale 1, 2) needs sides divisible by 4 / scale
    student = small_rrdb(scale=scale)
    raw = student.net(torch.rand(1, 1, *lr_hw))
    assert raw.shape[-2:] == (lr_hw[0] * scale, lr_hw[1] * scale)
    assert student(torch.rand(1, 1, *lr_hw), (28, 28)).shape == (1, 1, 28, 28)


def test_rrdb_is_trainable_and_resizes_with_the_chosen_mode() -> None:
    student = small_rrdb(resize="bilinear")
    assert student.trainable
    assert student.mode == "bilinear"
    assert sum(p.numel() for p in student.parameters()) == sum(p.numel() for p in basicsr_net().parameters())


@pytest.mark.parametrize("layout", ["plain.pth", "params_ema.pth", "params.pth", "net.safetensors"])
def test_loads_basicsr_weights(tmp_path: Path, layout: str) -> None:
    net = basicsr_net()
    path = tmp_path / layout
    if layout.endswith(".safetensors"):
        save_weights(net, path)
    elif layout == "plain.pth":
        torch.save(net.state_dict(), path)
    else:
        torch.save({layout.removesuffix(".pth"): net.state_dict()}, path)
    student = small_rrdb(weights=path)
    for k, v in net.state_dict().items():
        assert torch.equal(student.net.state_dict()[k], v), k
    lr = torch.rand(2, 1, 9, 9)
    with torch.no_grad():
        assert torch.equal(student.net(lr), net(lr))
    assert not torch.equal(small_rrdb().net.conv_first.weight, net.conv_first.weight)  # not just the same seed


def test_wrong_architecture_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "esrgan.pth"
    torch.save({"params_ema": basicsr_net().state_dict()}, path)
    with pytest.raises(UserError) as info:
        small_rrdb(weights=path, num_feat=16)
    message = str(info.value)
    assert "student.weights" in message and str(path) in message
    assert "wrong shape" in message and "conv_first.weight" in message


def test_missing_weights_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"student\.weights: file not found"):
        small_rrdb(weights=tmp_path / "nope.pth")


def test_checkpoint_of_the_wrong_channels(tmp_path: Path) -> None:
    path = tmp_path / "rgb.pth"
    torch.save(basicsr_net(channels=3).state_dict(), path)
    with pytest.raises(UserError, match="an RRDB for 3-channel images, but the data set has 1"):
        small_rrdb(GREY, weights=path)


@pytest.mark.parametrize("scale", [4, 2])
def test_an_untrained_residual_student_is_the_bicubic_upscale(scale: int) -> None:
    from srdistill.imaging import resize

    student = small_rrdb(RGB, residual=True, scale=scale)
    lr = torch.rand(2, 3, 10, 7)  # sides the ×2 network must pad: the bicubic base is cropped alike
    out = student.upscale(lr)
    assert out.shape == (2, 3, 10 * scale, 7 * scale)
    padded = torch.nn.functional.pad(lr, (0, -7 % 2, 0, -10 % 2), mode="replicate") if scale == 2 else lr
    base = resize(padded, (padded.shape[-2] * scale, padded.shape[-1] * scale), "bicubic", antialias=False)
    torch.testing.assert_close(out, base[..., : 10 * scale, : 7 * scale], rtol=0, atol=0)


def test_a_residual_student_learns_and_its_checkpoint_keeps_the_residual(tmp_path: Path) -> None:
    from srdistill.checkpoints import component_metadata
    from srdistill.checkpoints.student import load_student_checkpoint

    student = small_rrdb(RGB, residual=True)
    lr, target = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    optimizer = torch.optim.Adam(student.parameters(), lr=1e-2)
    for _ in range(3):
        optimizer.zero_grad()
        (student.upscale(lr) - target).abs().mean().backward()
        optimizer.step()
    assert student.net.conv_last.weight.abs().sum() > 0
    path = tmp_path / "best.safetensors"
    assert student.config is not None
    save_weights(student.net, path, component_metadata("student", student.config, channels=3))
    again = load_student_checkpoint(path, RGB, None, catalog().students)
    assert again.residual and set(again.net.state_dict()) == set(basicsr_net(3).state_dict())
    with torch.no_grad():
        torch.testing.assert_close(again.upscale(lr), student.upscale(lr))


@pytest.mark.parametrize("saved", [True, False])
def test_weights_of_the_other_residual_setting_are_refused(tmp_path: Path, saved: bool) -> None:
    from srdistill.checkpoints import component_metadata

    student = small_rrdb(RGB, residual=saved)
    path = tmp_path / "best.safetensors"
    assert student.config is not None
    save_weights(student.net, path, component_metadata("student", student.config, channels=3))
    with pytest.raises(UserError, match=f"trained with residual: {str(saved).lower()}") as err:
        small_rrdb(RGB, residual=not saved, weights=path)
    assert f"student.residual={str(saved).lower()}" in err.value.fix
    assert small_rrdb(RGB, residual=saved, weights=path).residual is saved
