"""RRDB checkpoints in ESRGAN (old and new: read by spandrel), BasicSR and Real-ESRGAN layouts load alike."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from srdistill.compat.basicsr import rrdbnet_class
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.students.rrdb import RRDBConfig, build_rrdb
from srdistill.students.rrdb_layouts import infer_arch, to_basicsr
from tests.rrdb_layout_helpers import as_esrgan, as_esrgan_old

GREY = DataInfo(channels=1, num_classes=10, hr_size=(28, 28), class_names=tuple("abcdefghij"))
RGB = DataInfo(channels=3, num_classes=3, hr_size=(32, 32), class_names=("a", "b", "c"))
#: as published ESRGAN weights, the dense blocks grow by 32 (spandrel builds no other width)
SIZES = {"num_feat": 8, "num_block": 3, "num_grow_ch": 32}


def reference_net(channels: int = 3, scale: int = 4, **sizes: int) -> torch.nn.Module:
    torch.manual_seed(7)
    net = rrdbnet_class()(channels, channels, scale=scale, **{**SIZES, **sizes})
    with torch.no_grad():  # basicsr scales its init down; make every weight matter
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return net.eval()


def write(path: Path, state: dict[str, torch.Tensor], wrapper: str | None) -> Path:
    if path.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save({wrapper: state} if wrapper else state, path)
    return path


LAYOUTS = {
    "basicsr": lambda s: s,
    "esrgan": as_esrgan,
    "esrgan_old": lambda s: as_esrgan_old(s, SIZES["num_block"]),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize(
    ("name", "wrapper"),
    [
        ("w.pth", None),
        ("w.pth", "params_ema"),  # BasicSR / Real-ESRGAN releases
        ("w.pth", "params"),
        ("w.pth", "state_dict"),
        ("w.safetensors", None),
    ],
)
def test_every_layout_round_trips(tmp_path: Path, layout: str, name: str, wrapper: str | None) -> None:
    net = reference_net()
    path = write(tmp_path / name, LAYOUTS[layout](net.state_dict()), wrapper)
    # sizes are left out of the recipe: they are read off the weights
    student = build_rrdb(RRDBConfig(type="rrdb", weights=path), RGB).eval()
    lr = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(student.net(lr), net(lr))


@pytest.mark.parametrize("scale", [2, 1])
def test_real_esrgan_x2_and_x1_in_the_old_layout_keep_their_pixel_unshuffle(scale: int) -> None:
    net = reference_net(scale=scale)
    converted = to_basicsr(as_esrgan_old(net.state_dict(), SIZES["num_block"]))
    assert infer_arch(converted).scale == scale
    assert all(torch.equal(converted[k], v) for k, v in net.state_dict().items())


def test_basicsr_weights_with_any_growth_are_read_as_they_are() -> None:
    state = reference_net(num_grow_ch=4).state_dict()
    assert to_basicsr(state) == state and infer_arch(state).num_grow_ch == 4


@pytest.mark.parametrize("layout", ["esrgan", "esrgan_old"])
@pytest.mark.parametrize("grow", [8, 16, 32])
def test_esrgan_layouts_of_any_growth_load_and_upscale_exactly(tmp_path: Path, layout: str, grow: int) -> None:
    net = reference_net(num_feat=16, num_block=2, num_grow_ch=grow)
    state = as_esrgan(net.state_dict()) if layout == "esrgan" else as_esrgan_old(net.state_dict(), 2)
    student = build_rrdb(RRDBConfig(type="rrdb", weights=write(tmp_path / "w.pth", state, None)), RGB).eval()
    assert infer_arch(to_basicsr(state)).num_grow_ch == grow
    lr = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(student.net(lr), net(lr))


def test_spandrels_errors_are_shown_whole() -> None:
    state = as_esrgan_old(reference_net(num_grow_ch=4).state_dict(), SIZES["num_block"])
    del state["model.1.sub.0.RDB1.conv1.0.bias"]  # no longer the whole network: spandrel reads it, and fails
    with pytest.raises(UserError, match="spandrel could not read these RRDB weights") as e:
        to_basicsr(state, "student.weights (w.pth)")
    assert e.value.problem.startswith("student.weights (w.pth): ")
    assert len(e.value.problem.splitlines()) > 2  # every line of the loader's message, not only its first


def test_an_esrgan_with_one_upsampling_is_refused_with_the_spandrel_student() -> None:
    state = as_esrgan_old(reference_net().state_dict(), SIZES["num_block"])
    # ×2 in the old layout: one upsampling conv (model.3), then model.5 and model.7
    moved = {"model.6.": None, "model.8.": "model.5.", "model.10.": "model.7."}
    x2 = {}
    for key, value in state.items():
        old = next((prefix for prefix in moved if key.startswith(prefix)), None)
        if old is None or moved[old] is not None:
            x2[key if old is None else moved[old] + key.removeprefix(old)] = value
    with pytest.raises(UserError, match=r"×2 ESRGAN network, which basicsr's RRDBNet") as e:
        to_basicsr(x2)
    assert "student type: spandrel" in (e.value.fix or "")


@pytest.mark.parametrize("scale", [4, 2, 1])
def test_scale_and_sizes_are_inferred(scale: int) -> None:
    net = reference_net(channels=3, scale=scale, num_feat=12, num_block=2, num_grow_ch=6)
    arch = infer_arch(net.state_dict())
    assert (arch.num_in_ch, arch.num_out_ch, arch.scale) == (3, 3, scale)
    assert (arch.num_feat, arch.num_block, arch.num_grow_ch) == (12, 2, 6)


def test_old_layout_with_default_esrgan_block_count_maps_trunk_conv() -> None:
    state = as_esrgan_old(reference_net(num_block=3).state_dict(), 3)
    assert "model.1.sub.3.weight" in state  # the trunk conv follows the last block
    converted = to_basicsr(state)
    assert "conv_body.weight" in converted and "body.2.rdb3.conv5.weight" in converted


def test_recipe_sizes_that_contradict_the_weights_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "w.pth", reference_net().state_dict(), "params_ema")
    with pytest.raises(UserError, match="wrong shape") as info:
        build_rrdb(RRDBConfig(type="rrdb", weights=path, num_feat=16), RGB)
    assert "conv_first.weight" in str(info.value)


def test_missing_blocks_are_reported(tmp_path: Path) -> None:
    state = reference_net().state_dict()
    path = write(tmp_path / "w.pth", state, None)
    with pytest.raises(UserError, match="missing") as info:
        build_rrdb(RRDBConfig(type="rrdb", weights=path, num_block=5), RGB)
    assert "body.3" in str(info.value)


def test_channels_must_match_the_data(tmp_path: Path) -> None:
    path = write(tmp_path / "w.pth", reference_net(channels=3).state_dict(), None)
    with pytest.raises(UserError, match="3-channel images, but the data set has 1"):
        build_rrdb(RRDBConfig(type="rrdb", weights=path), GREY)


def test_not_an_rrdb_is_a_clear_error_naming_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "w.pth", {"fc.weight": torch.zeros(2, 2)}, None)
    with pytest.raises(UserError, match="not an RRDB network in a known layout") as e:
        build_rrdb(RRDBConfig(type="rrdb", weights=path), RGB)
    assert str(e.value).startswith(f"student.weights ({path}) is not an RRDB network")


def test_mixed_layouts_are_refused() -> None:
    state = as_esrgan(reference_net().state_dict())
    state["model.3.weight"] = torch.zeros(1)
    with pytest.raises(UserError, match="1 of its 103 tensors are not part of the ESRGAN network"):
        to_basicsr(state)


def test_defaults_without_weights_are_esrgan_sizes() -> None:
    student = build_rrdb(RRDBConfig(type="rrdb"), RGB)
    arch = infer_arch(student.net.state_dict())
    assert (arch.num_feat, arch.num_block, arch.num_grow_ch, arch.scale) == (64, 23, 32, 4)
