"""Colour: a greyscale student works on luma and keeps the photo's colour; RGB stays RGB; grey stays grey."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from srdistill.checkpoints import save_weights
from srdistill.compat.basicsr import rrdbnet_class
from srdistill.inference.colour import ColourPath, colour_path, super_resolve_image


def bicubic_x4(lr: torch.Tensor) -> torch.Tensor:
    return F.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False).clamp(0, 1)


def psnr(a: Image.Image, b: Image.Image) -> float:
    x, y = (np.asarray(im, dtype=np.float64) for im in (a, b))
    return float(10 * np.log10(255.0**2 / np.mean((x - y) ** 2)))


def test_colour_paths() -> None:
    rgb, grey = Image.new("RGB", (4, 4)), Image.new("L", (4, 4))
    assert colour_path(rgb, 1) is ColourPath.LUMA and colour_path(grey, 3) is ColourPath.GREY_AS_RGB
    assert colour_path(rgb, 3) is ColourPath.SAME and colour_path(grey, 1) is ColourPath.SAME
    assert colour_path(Image.new("LA", (4, 4)), 1) is ColourPath.SAME


@pytest.mark.parametrize("channels", [1, 3])
def test_photos_keep_their_colour(photos: Path, channels: int) -> None:
    """With a bicubic 'student', both colour paths must give what plain bicubic ×4 of the RGB photo gives."""
    for path in sorted(photos.iterdir()):
        photo = Image.open(path).convert("RGB")
        sr, used = super_resolve_image(photo, channels, bicubic_x4)
        reference = photo.resize(sr.size, Image.Resampling.BICUBIC)
        assert sr.mode == "RGB" and sr.size == (4 * photo.width, 4 * photo.height)
        assert used is (ColourPath.LUMA if channels == 1 else ColourPath.SAME)
        assert psnr(sr, reference) > 38, path.name  # YCbCr round trip and the two bicubic kernels differ slightly


def test_grey_student_runs_on_luma_only(photos: Path) -> None:
    photo = Image.open(photos / "chelsea.jpg").convert("RGB")
    seen: list[torch.Tensor] = []

    def record(lr: torch.Tensor) -> torch.Tensor:
        seen.append(lr)
        return bicubic_x4(1 - lr)  # anything that changes luma only

    sr, _ = super_resolve_image(photo, 1, record)
    y, cb, cr = photo.convert("YCbCr").split()
    assert len(seen) == 1 and seen[0].shape == (1, 1, photo.height, photo.width)
    assert torch.equal(seen[0][0, 0], torch.from_numpy(np.asarray(y, dtype=np.float32) / 255))
    _, cb_sr, cr_sr = sr.convert("YCbCr").split()
    for got, original in ((cb_sr, cb), (cr_sr, cr)):  # chroma is the bicubic upscale of the original's
        assert psnr(got, original.resize(sr.size, Image.Resampling.BICUBIC)) > 38


def test_rgb_student_on_grey_image_gives_grey(tmp_path: Path) -> None:
    grey = Image.fromarray(np.random.default_rng(0).integers(0, 255, (10, 12), dtype=np.uint8))
    sr, used = super_resolve_image(grey, 3, bicubic_x4)
    assert used is ColourPath.GREY_AS_RGB and sr.mode == "L" and sr.size == (48, 40)


@pytest.fixture
def grey_checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "grey.safetensors"
    net = rrdbnet_class()(1, 1, scale=4, num_feat=8, num_block=1, num_grow_ch=4)
    save_weights(net, path, {"role": "student", "config": {"type": "rrdb"}, "channels": 1})
    return path


def test_cli_grey_student_on_photos_keeps_colour_and_says_so(cli, photos, grey_checkpoint, tmp_path, flatten) -> None:
    result = cli("upscale", grey_checkpoint, photos, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "4 colour images were super-resolved on their luma (Y)" in flatten(result.stderr)
    assert "rgb_folder_pixel.yaml" in flatten(result.stderr)
    for path in photos.iterdir():
        out = Image.open(tmp_path / "out" / path.name)
        assert out.mode == "RGB" and out.size == tuple(4 * s for s in Image.open(path).size)


def test_cli_rgb_student_on_grey_image_says_so(cli, tmp_path: Path, flatten) -> None:
    torch.manual_seed(0)
    ckpt = tmp_path / "rgb.safetensors"
    net = rrdbnet_class()(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=4)
    save_weights(net, ckpt, {"role": "student", "config": {"type": "rrdb"}, "channels": 3})
    (tmp_path / "in").mkdir()
    Image.new("L", (9, 7), 128).save(tmp_path / "in" / "g.png")
    result = cli("upscale", ckpt, tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "1 greyscale images were fed to it as grey RGB and saved greyscale" in flatten(result.stderr)
    assert Image.open(tmp_path / "out" / "g.png").mode == "L"
