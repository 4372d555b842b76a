"""srdistill upscale: any image size, tiles that do not show, names kept, bad files skipped."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srdistill.checkpoints import save_weights
from srdistill.compat.basicsr import rrdbnet_class
from srdistill.errors import UserError
from srdistill.inference.student import load_student
from srdistill.inference.upscale import on_device, upscale_tensor
from srdistill.students.base import SuperResolver


def small_student(channels: int = 3) -> SuperResolver:
    torch.manual_seed(0)
    return SuperResolver(rrdbnet_class()(channels, channels, scale=4, num_feat=8, num_block=1, num_grow_ch=4)).eval()


@pytest.mark.parametrize(("h", "w"), [(37, 53), (64, 64), (9, 130)])
def test_tiles_with_enough_overlap_equal_the_whole_image(h: int, w: int) -> None:
    """The network sees 17 convolutions at low resolution: 20 pixels of context make tiles exact."""
    student = small_student()
    lr = torch.rand(1, 3, h, w)
    whole = upscale_tensor(student, lr, tile=1024)
    tiled = upscale_tensor(student, lr, tile=16, overlap=20)
    assert tiled.shape == whole.shape == (1, 3, 4 * h, 4 * w)
    assert torch.allclose(tiled, whole, atol=1e-5)


def test_scale_option_resizes_the_result() -> None:
    out = upscale_tensor(small_student(), torch.rand(1, 3, 25, 30), tile=64, scale=1 / 0.32)
    assert out.shape[-2:] == (78, 94)  # 25 / 0.32 = 78.1, 30 / 0.32 = 93.75


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "student.safetensors"
    save_weights(small_student().net, path, {"role": "student", "config": {"type": "rrdb"}, "channels": 3})
    return path


def test_load_student_reads_foreign_and_own_checkpoints(tmp_path: Path, checkpoint: Path) -> None:
    student, channels = load_student(checkpoint)
    assert channels == 3
    grey = tmp_path / "basicsr.pth"
    torch.save({"params_ema": small_student(1).net.state_dict()}, grey)
    student, channels = load_student(grey)
    assert channels == 1 and isinstance(student, SuperResolver)


def test_cli_upscales_a_folder_keeping_names(cli, tmp_path: Path, checkpoint: Path) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (21, 33, 3), dtype=np.uint8)).save(src / "a.png")
    Image.fromarray(rng.integers(0, 255, (40, 17), dtype=np.uint8)).save(src / "sub" / "b.jpg")  # grey JPEG
    (src / "broken.png").write_text("not an image")
    result = cli("upscale", checkpoint, src, tmp_path / "out", "--tile", "16", "--overlap", "4")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "out" / "a.png").size == (132, 84)
    assert Image.open(tmp_path / "out" / "sub" / "b.jpg").size == (68, 160)
    assert "skipped 1 unreadable files" in result.output and "broken.png" in result.output
    assert not (tmp_path / "out" / "broken.png").exists()


def test_cli_upscales_one_file(cli, tmp_path: Path, checkpoint: Path) -> None:
    Image.fromarray(np.zeros((10, 12, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    result = cli("upscale", checkpoint, tmp_path / "x.png", tmp_path / "y.png")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "y.png").size == (48, 40)


def test_cli_errors(cli, tmp_path: Path, checkpoint: Path, flatten) -> None:
    result = cli("upscale", tmp_path / "none.safetensors", tmp_path, tmp_path / "o")
    assert result.exit_code == 1 and "Checkpoint not found" in flatten(result.stderr)
    result = cli("upscale", checkpoint, tmp_path / "missing", tmp_path / "o")
    assert result.exit_code == 1 and "Input not found" in flatten(result.stderr)
    result = cli("upscale", checkpoint, tmp_path, tmp_path / "o", "--tile", "16", "--overlap", "16")
    assert result.exit_code == 1 and "overlap < tile" in flatten(result.stderr)
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("tile", "overlap", "message"),
    [
        (None, -3, "--overlap -3: the context around each tile cannot be negative."),
        (4, 0, "--tile 4 --overlap 0: need tile ≥ 8 and overlap < tile."),
        (16, 16, "--tile 16 --overlap 16: need tile ≥ 8 and overlap < tile."),
    ],
)
def test_bad_tiling_names_what_was_given(tile: int | None, overlap: int, message: str) -> None:
    from srdistill.errors import UserError
    from srdistill.inference.upscale import check_tiling

    with pytest.raises(UserError) as e:
        check_tiling(tile, overlap, None)
    assert e.value.problem == message and "None" not in e.value.problem


def test_precision_fp32_is_auto_on_cpu_and_bf16_runs(cli, tmp_path: Path, checkpoint: Path) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (12, 10, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    outputs = {}
    for precision in ("auto", "fp32", "bf16"):
        out = tmp_path / f"{precision}.png"
        result = cli("upscale", checkpoint, tmp_path / "x.png", out, "--precision", precision)
        assert result.exit_code == 0, result.output
        outputs[precision] = np.asarray(Image.open(out))
    assert np.array_equal(outputs["auto"], outputs["fp32"])  # auto is fp32 on a CPU
    assert outputs["bf16"].shape == outputs["fp32"].shape == (48, 40, 3)
    result = cli("upscale", checkpoint, tmp_path / "x.png", tmp_path / "y.png", "--precision", "fp8")
    assert result.exit_code != 0 and "fp8" in result.output


def test_on_device_casts_weights_channels_last() -> None:
    student, dtype = on_device(small_student(), torch.device("cpu"), "bf16")
    assert dtype == torch.bfloat16
    assert student.net.conv_first.weight.is_contiguous(memory_format=torch.channels_last)
    assert all(p.dtype == torch.bfloat16 for p in student.parameters())
    assert on_device(small_student(), torch.device("cpu"), "auto")[1] == torch.float32
    out = upscale_tensor(student, torch.rand(1, 3, 9, 9, dtype=torch.bfloat16), tile=64)
    assert out.dtype == torch.float32  # results are stored in float32, whatever the network ran in


def photo_crops(side: int) -> list[torch.Tensor]:
    """Centre crops of scikit-image's four colour photos, ``(1, 3, side, side)`` in [0, 1]."""
    from skimage import data

    crops = []
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        image = getattr(data, name)()
        top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
        crop = image[top : top + side, left : left + side, :3]
        crops.append(torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float() / 255)
    return crops


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_half_precision_output_stays_within_50_db_of_fp32_on_colour_photos(precision: str) -> None:
    """An RRDB whose output is a photo (bicubic plus its correction), as saved (8 bits). Two blocks:
    at the paper's 23, bf16 is near 50 dB and fp16 near 60 (docs/benchmarks.md)."""
    torch.manual_seed(0)
    net = rrdbnet_class()(3, 3, scale=4, num_feat=32, num_block=2, num_grow_ch=16)
    saved = {}
    for p in ("fp32", precision):
        model, dtype = on_device(SuperResolver(copy.deepcopy(net), residual=True), torch.device("cpu"), p)
        saved[p] = [upscale_tensor(model, c.to(dtype)).mul(255).round() for c in photo_crops(40)]
    mse = torch.stack([(a - b).square().mean() for a, b in zip(saved["fp32"], saved[precision], strict=True)]).mean()
    assert mse > 0 and 10 * torch.log10(255**2 / mse) > 50
    assert saved["fp32"][0].std() > 20  # the output is a photo, not a constant the comparison could hide in


def test_fp16_overflow_is_an_error() -> None:
    student = small_student()
    with torch.no_grad():
        student.net.conv_hr.weight.mul_(1e4)  # activations beyond float16's 65504
        student.net.conv_last.weight.mul_(1e4)
    model, dtype = on_device(student, torch.device("cpu"), "fp16")
    with pytest.raises(UserError, match="overflowed float16"):
        upscale_tensor(model, torch.rand(1, 3, 9, 9).to(dtype), tile=64)
