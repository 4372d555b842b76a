"""photo_folder: photos without labels at full resolution, sides rounded only for an exact degradation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pydantic import ValidationError
from torch.utils.data import DataLoader

from srdistill.catalog import catalog
from srdistill.data.base import NO_LABEL, collate
from srdistill.data.photo_folder import PhotoFolderConfig, build_photo_folder, rounded_size
from srdistill.errors import UserError


def config(root: Path, **settings) -> PhotoFolderConfig:
    return PhotoFolderConfig(type="photo_folder", root=root, **settings)


def test_registered() -> None:
    assert "photo_folder" in catalog().datasets.names()


def test_evaluation_images_keep_their_size_rounded_down_to_the_multiple(photos: Path) -> None:
    splits = build_photo_folder(config(photos, test_fraction=1.0))
    assert len(splits.test) == 4
    for i, path in enumerate(splits.test.paths):
        image, label = splits.test[i]
        w, h = Image.open(path).size
        assert label == NO_LABEL and image.dtype == torch.uint8
        assert tuple(image.shape) == (3, h // 25 * 25, w // 25 * 25)  # no square crop, at most 24 px cut
        assert h - image.shape[1] < 25 and w - image.shape[2] < 25


def test_the_crop_is_central_and_pixels_are_untouched(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (53, 78, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    splits = build_photo_folder(config(tmp_path, test_fraction=1.0))
    image, _ = splits.test[0]
    assert np.array_equal(image.permute(1, 2, 0).numpy(), pixels[1:51, 1:76])  # 53→50, 78→75


def test_bicubic_0_32_round_trip_is_exact_on_rounded_sizes(photos: Path) -> None:
    from srdistill.degradations.resize import BicubicConfig

    degradation = catalog().degradations.build(BicubicConfig(type="bicubic", factor=0.32))
    splits = build_photo_folder(config(photos, test_fraction=1.0))
    for i in range(len(splits.test)):
        hr = splits.test[i][0].float().div(255).unsqueeze(0)
        lr = degradation(hr)
        assert tuple(lr.shape[-2:]) == tuple(round(s * 0.32) for s in hr.shape[-2:])
        assert all(math.isclose(lo / 0.32, hi) for lo, hi in zip(lr.shape[-2:], hr.shape[-2:], strict=True))


def test_rounded_size() -> None:
    assert rounded_size((300, 451), 25) == (300, 450)
    assert rounded_size((10, 60), 25) == (25, 50)  # never below one multiple
    assert rounded_size((301, 451), 1) == (301, 451)


def test_training_items_are_random_crops_with_repeats(photos: Path) -> None:
    splits = build_photo_folder(config(photos, val_fraction=0.25, test_fraction=0.25, crops_per_image=3))
    assert splits.sizes() == {"train": 6, "val": 1, "test": 1}
    crops = [splits.train[i][0] for i in range(len(splits.train))]
    assert all(tuple(c.shape) == (3, 100, 100) for c in crops)
    assert not torch.equal(crops[0], crops[2])  # the same photo, another window
    images, labels, bad = collate([splits.train[i] for i in range(4)])
    assert images.shape == (4, 3, 100, 100) and labels.tolist() == [NO_LABEL] * 4 and bad == []


def test_small_images_are_enlarged_to_one_crop(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        Image.new("RGB", (40, 30), (200, 10, 10)).save(tmp_path / f"{name}.png")
    splits = build_photo_folder(config(tmp_path, val_fraction=0.3, test_fraction=0.3))
    assert tuple(splits.train[0][0].shape) == (3, 100, 100)
    assert tuple(splits.test[0][0].shape) == (3, 25, 25)


def test_no_labels_and_split_sizes(photos: Path) -> None:
    splits = build_photo_folder(config(photos, val_fraction=0.25, test_fraction=0.25))
    assert splits.info.num_classes == 0 and not splits.info.labelled and splits.info.class_names == ()
    assert splits.info.hr_size == (100, 100)
    train, val, test = (set(map(str, getattr(splits, s).paths)) for s in ("train", "val", "test"))
    assert len(val) == len(test) == 1 and len(train) == 2 and not (train & val or train & test or val & test)
    again = build_photo_folder(config(photos, val_fraction=0.25, test_fraction=0.25))
    assert again.test.paths == splits.test.paths  # the seed fixes the split


def test_grey_channel(photos: Path) -> None:
    splits = build_photo_folder(config(photos, test_fraction=1.0, channels=1))
    assert splits.test[0][0].shape[0] == 1


def test_mixed_sizes_need_batch_size_one(photos: Path) -> None:
    test = build_photo_folder(config(photos, test_fraction=1.0)).test
    with pytest.raises(UserError, match="different sizes") as e:
        next(iter(DataLoader(test, batch_size=2, collate_fn=collate)))
    assert "compare.batch_size: 1" in str(e.value)
    assert [len(batch[0]) for batch in DataLoader(test, batch_size=1, collate_fn=collate)] == [1, 1, 1, 1]


def test_unreadable_files_are_reported_not_fatal(tmp_path: Path) -> None:
    Image.new("RGB", (50, 50)).save(tmp_path / "ok.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    test = build_photo_folder(config(tmp_path, test_fraction=1.0)).test
    items = {Path(p).name if img is None else "ok": img for img, p in (test[i] for i in range(2))}
    assert items["broken.png"] is None and items["ok"] is not None


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"train_crop": 110}, "not a multiple"), ({"relabel": {"names": ["a"], "map": {0: 0}}}, "relabel")],
)
def test_bad_settings(tmp_path: Path, settings: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        config(tmp_path, **settings)


def test_bad_folders(tmp_path: Path, photos: Path) -> None:
    with pytest.raises(UserError, match="Photo folder not found"):
        build_photo_folder(config(tmp_path / "nope"))
    with pytest.raises(UserError, match="holds no images"):
        build_photo_folder(config(tmp_path))
    with pytest.raises(UserError, match="too few for a training"):
        build_photo_folder(config(photos, val_fraction=0.5, test_fraction=0.5))


def sixteen_bit_png(path: Path, side: int = 50) -> np.ndarray:
    """A grey 16-bit PNG whose values span 0..65535 (PIL opens it as mode I;16); returns its pixels."""
    pixels = np.linspace(0, 65535, side * side).reshape(side, side).astype(np.uint16)
    Image.fromarray(pixels).save(path)
    assert Image.open(path).mode == "I;16"
    return pixels


@pytest.mark.parametrize("channels", [1, 3])
def test_a_16_bit_png_is_scaled_to_8_bits_not_clipped(tmp_path: Path, channels: int) -> None:
    pixels = sixteen_bit_png(tmp_path / "deep.png")
    image, _ = build_photo_folder(config(tmp_path, test_fraction=1.0, channels=channels)).test[0]
    expected = torch.from_numpy(np.round(pixels / 257.0).astype(np.uint8))
    assert image.shape == (channels, 50, 50)
    assert all(torch.equal(image[c], expected) for c in range(channels))
    assert (image == 255).float().mean() < 0.01  # clipping made 99.6% of them white


def test_an_image_smaller_than_one_multiple_is_skipped_and_named(tmp_path: Path) -> None:
    Image.new("RGB", (1, 1), (10, 200, 10)).save(tmp_path / "dot.png")
    Image.new("RGB", (60, 24), (10, 200, 10)).save(tmp_path / "strip.png")  # 24 < 25 on one side
    splits = build_photo_folder(config(tmp_path, test_fraction=1.0))
    for dataset in (splits.train, splits.test):  # training crops and evaluation images alike
        names = sorted(str(dataset[i][1]) for i in range(len(dataset)) if dataset[i][0] is None)
        assert len(names) == len(dataset)
        assert f"{tmp_path / 'dot.png'} (1×1: smaller than 25×25, data.multiple)" in names
        assert f"{tmp_path / 'strip.png'} (60×24: smaller than 25×25, data.multiple)" in names


def test_a_training_run_lists_too_small_photos_in_bad_files(cli, make_recipe, tmp_path: Path) -> None:
    import yaml

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (60, 75, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    Image.new("RGB", (1, 1)).save(photos / "dot.png")
    recipe = make_recipe(
        tmp_path,
        data={
            "type": "photo_folder",
            "root": str(photos),
            "train_crop": 50,
            "crops_per_image": 2,
            "test_fraction": 1.0,
        },
        teacher={"type": "timm", "model": "test_resnet", "num_classes": 10, "input_size": 32, "crop_pct": 1.0},
        train={"epochs": 1, "batch_size": 2, "max_steps_per_epoch": 4, "val_batch_size": 1},
    )
    path = tmp_path / "photos.yaml"
    path.write_text(yaml.safe_dump(recipe))
    result = cli("train", path)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "tiny" / "bad_files.txt").read_text().splitlines() == [
        f"{photos / 'dot.png'} (1×1: smaller than 25×25, data.multiple)"
    ]
