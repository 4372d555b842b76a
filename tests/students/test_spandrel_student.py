"""The spandrel student: any SR checkpoint spandrel recognises, here ESRGAN in its original layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("spandrel")

from srdistill.checkpoints import save_weights
from srdistill.compat.basicsr import rrdbnet_class
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.students.spandrel_student import SpandrelConfig, build_spandrel
from tests.rrdb_layout_helpers import as_esrgan_old

RGB = DataInfo(channels=3, num_classes=3, hr_size=(32, 32), class_names=("a", "b", "c"))


@pytest.fixture
def esrgan_file(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    net = rrdbnet_class()(3, 3, scale=4, num_feat=16, num_block=2, num_grow_ch=32).eval()  # spandrel assumes 32
    path = tmp_path / "RRDB_ESRGAN_x4.pth"
    torch.save(as_esrgan_old(net.state_dict(), num_block=2), path)
    return path, net


def test_spandrel_loads_esrgan_and_matches_basicsr(esrgan_file) -> None:
    path, net = esrgan_file
    student = build_spandrel(SpandrelConfig(type="spandrel", weights=path), RGB).eval()
    lr = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(student.upscale(lr), net(lr), atol=1e-5)
    assert student(lr, (32, 32)).shape == (1, 3, 32, 32)
    assert all(p.requires_grad for p in student.net.parameters())  # trainable


def test_its_checkpoint_loads_back_through_spandrel(esrgan_file, tmp_path: Path) -> None:
    path, _ = esrgan_file
    student = build_spandrel(SpandrelConfig(type="spandrel", weights=path), RGB).eval()
    save_weights(student.net, tmp_path / "s.safetensors")
    again = build_spandrel(SpandrelConfig(type="spandrel", weights=tmp_path / "s.safetensors"), RGB).eval()
    lr = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(student.upscale(lr), again.upscale(lr))


def test_unrecognised_and_mismatched_files(esrgan_file, tmp_path: Path) -> None:
    path, _ = esrgan_file
    other = tmp_path / "linear.pth"
    torch.save({"weight": torch.zeros(2, 2)}, other)
    with pytest.raises(UserError, match="spandrel does not recognise"):
        build_spandrel(SpandrelConfig(type="spandrel", weights=other), RGB)
    grey = DataInfo(channels=1, num_classes=3, hr_size=(32, 32), class_names=("a", "b", "c"))
    with pytest.raises(UserError, match="for 3-channel images, but the data set has 1"):
        build_spandrel(SpandrelConfig(type="spandrel", weights=path), grey)


@pytest.mark.parametrize("channels", [3, 1])
def test_a_student_srdistill_trains_and_exports_loads_in_spandrel(cli, tmp_path: Path, channels: int) -> None:
    """chaiNNer and ComfyUI load SR networks through spandrel: an rrdb student (default num_grow_ch 32,
    residual off) as training writes it and as `srdistill export` writes it is read there as ESRGAN."""
    import spandrel

    from srdistill.checkpoints import component_metadata
    from srdistill.students.rrdb import RRDBConfig, build_rrdb

    info = DataInfo(channels=channels, num_classes=3, hr_size=(32, 32), class_names=("a", "b", "c"))
    student = build_rrdb(RRDBConfig(type="rrdb", num_feat=8, num_block=2), info).eval()
    torch.manual_seed(1)
    with torch.no_grad():  # weights away from the initialisation, so that a mix-up shows
        for p in student.net.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    best = tmp_path / "best.safetensors"
    save_weights(student.net, best, component_metadata("student", student.config, channels=channels))
    assert cli("export", best, tmp_path / "out", "--no-onnx").exit_code == 0
    lr = torch.rand(2, channels, 8, 8)
    for path in (best, tmp_path / "out.safetensors"):
        loaded = spandrel.ModelLoader().load_from_file(path)
        assert isinstance(loaded, spandrel.ImageModelDescriptor) and loaded.architecture.id == "ESRGAN"
        assert (loaded.scale, loaded.input_channels, loaded.output_channels) == (4, channels, channels)
        with torch.no_grad():
            assert torch.allclose(loaded.model.eval()(lr), student.net(lr), atol=1e-6)
