"""Images in class subfolders (ImageNet layout), resized and centre-cropped to hr_size."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Subset

from srdistill.catalog import catalog
from srdistill.data.base import Splits, stratified_split
from srdistill.data.image_folder import ImageFolderConfig, build_image_folder
from srdistill.errors import UserError

CLASSES = ("cat", "dog", "fox")  # what the image_tree fixture writes: 8 train and 4 val images each


def build(root: Path, **settings) -> Splits:
    return build_image_folder(ImageFolderConfig(type="image_folder", root=root, **{"hr_size": 32, **settings}))


def labels(dataset) -> list[int]:
    return [dataset[i][1] for i in range(len(dataset))]


def sample_paths(dataset) -> list[str]:
    if isinstance(dataset, Subset):
        return [dataset.dataset.samples[i][0] for i in dataset.indices]
    return [path for path, _ in dataset.samples]


@pytest.fixture
def tree_copy(image_tree: Path, tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(image_tree, root)
    return root


def test_reads_the_tree(image_tree: Path) -> None:
    splits = catalog().datasets.build(ImageFolderConfig(type="image_folder", root=image_tree, hr_size=32))
    assert splits.info.class_names == CLASSES
    assert splits.info.num_classes == 3 and splits.info.channels == 3 and splits.info.hr_size == (32, 32)
    assert splits.sizes() == {"train": 24, "val": 6, "test": 6}
    for dataset in (splits.train, splits.val, splits.test):
        for i in range(len(dataset)):
            image, label = dataset[i]
            assert image.dtype == torch.uint8 and image.shape == (3, 32, 32)
            assert 0 <= label < 3


def test_pngs_and_jpegs_are_found(image_tree: Path) -> None:
    paths = sample_paths(build(image_tree).train)
    assert {Path(p).suffix for p in paths} == {".JPEG", ".PNG"}


def test_class_colour_survives_decoding(image_tree: Path) -> None:
    """The fixture sets channel k of every pixel of class k to 255."""
    splits = build(image_tree, hr_size=16)
    for i in range(len(splits.train)):
        image, label = splits.train[i]
        assert image[label].float().mean() > 200  # JPEG blurs it a little
        assert image[label].float().mean() > image.float().mean() + 40


def test_greyscale(image_tree: Path) -> None:
    splits = build(image_tree, channels=1, hr_size=20)
    assert splits.info.channels == 1
    image, _ = splits.val[0]
    assert image.shape == (1, 20, 20) and image.dtype == torch.uint8


def test_shorter_side_resize_then_centre_crop(tmp_path: Path) -> None:
    from PIL import Image

    for split, name in (("train", "a"), ("train", "b"), ("val", "a"), ("val", "b")):
        folder = tmp_path / split / name
        folder.mkdir(parents=True)
        for i in range(2):
            # 40 wide, 20 high: left half black, middle white, right quarter black
            pixels = np.zeros((20, 40), dtype=np.uint8)
            pixels[:, 10:30] = 255
            Image.fromarray(pixels).save(folder / f"{i}.png")
    splits = build(tmp_path, hr_size=10, channels=1)
    image, _ = splits.train[0]
    # 40×20 → 20×10, centre crop 10×10 keeps the white middle only
    assert image.shape == (1, 10, 10)
    assert image.float().mean() > 250


def test_train_fraction_is_class_balanced(image_tree: Path) -> None:
    splits = build(image_tree, train_fraction=0.5)
    assert isinstance(splits.train, Subset)
    assert Counter(labels(splits.train)) == {0: 4, 1: 4, 2: 4}
    smaller = build(image_tree, train_fraction=0.25)
    assert Counter(labels(smaller.train)) == {0: 2, 1: 2, 2: 2}


def test_train_fraction_is_deterministic_per_seed(image_tree: Path) -> None:
    a = sample_paths(build(image_tree, train_fraction=0.5, seed=1).train)
    b = sample_paths(build(image_tree, train_fraction=0.5, seed=1).train)
    c = sample_paths(build(image_tree, train_fraction=0.5, seed=2).train)
    assert a == b and a != c


def test_val_is_split_into_disjoint_validation_and_test(image_tree: Path) -> None:
    splits = build(image_tree)
    val, test = sample_paths(splits.val), sample_paths(splits.test)
    assert not set(val) & set(test)
    all_val = sorted(str(p) for p in (image_tree / "val").rglob("*.*"))
    assert sorted(val + test) == all_val
    assert Counter(labels(splits.val)) == {0: 2, 1: 2, 2: 2}
    assert Counter(labels(splits.test)) == {0: 2, 1: 2, 2: 2}
    assert all("/val/" in p for p in val + test)


def test_val_fraction(image_tree: Path) -> None:
    splits = build(image_tree, val_fraction=0.25)
    assert splits.sizes()["val"] == 3 and splits.sizes()["test"] == 9


def test_explicit_test_dir(image_tree: Path) -> None:
    splits = build(image_tree, test_dir="train")
    assert splits.sizes() == {"train": 24, "val": 12, "test": 24}


def test_missing_root_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        build(tmp_path / "imagenet")
    assert str(tmp_path / "imagenet" / "train") in str(info.value)
    assert "not found" in str(info.value)


def test_missing_val_folder(tree_copy: Path) -> None:
    with pytest.raises(UserError) as info:
        build(tree_copy, val_dir="validation")
    assert str(tree_copy / "validation") in str(info.value)


def test_val_class_not_in_train(tree_copy: Path) -> None:
    shutil.copytree(tree_copy / "val" / "cat", tree_copy / "val" / "zebra")
    with pytest.raises(UserError, match="class folders the training split lacks: zebra"):
        build(tree_copy)


def test_train_without_class_folders(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "val").mkdir()
    with pytest.raises(UserError, match="has no class subfolders"):
        build(tmp_path)


def test_empty_class_folder(tree_copy: Path) -> None:
    for image in (tree_copy / "val" / "dog").iterdir():
        image.unlink()
    with pytest.raises(UserError, match="at least one image"):
        build(tree_copy)


def test_too_few_val_images_to_split(tree_copy: Path) -> None:
    for name in ("cat", "dog"):
        for image in sorted((tree_copy / "val" / name).iterdir())[1:]:
            image.unlink()
    shutil.rmtree(tree_copy / "val" / "fox")
    shutil.rmtree(tree_copy / "train" / "fox")
    with pytest.raises(UserError, match="too few images"):
        build(tree_copy)


def test_train_fraction_selecting_nothing(tree_copy: Path) -> None:
    with pytest.raises(UserError, match="selects no training images"):
        build(tree_copy, train_fraction=0.01)


def test_stratified_split() -> None:
    targets = [0] * 10 + [1] * 6
    a, b = stratified_split(targets, [0.5, 0.5], seed=0)
    assert sorted(a + b) == list(range(16)) and not set(a) & set(b)
    assert Counter(targets[i] for i in a) == {0: 5, 1: 3}
    (part,) = stratified_split(targets, [0.3], seed=0)
    assert Counter(targets[i] for i in part) == {0: 3, 1: 2}  # round(1.8) = 2
    assert part == sorted(part)


def test_imagenet_synset_folders_get_timm_descriptions(tmp_path) -> None:
    from PIL import Image

    from srdistill.data.image_folder import ImageFolderConfig, build_image_folder

    for split in ("train", "val"):
        for wnid in ("n01440764", "n01443537"):
            folder = tmp_path / split / wnid
            folder.mkdir(parents=True)
            for i in range(2):
                Image.new("RGB", (40, 30), (i * 100, 0, 0)).save(folder / f"{i}.JPEG")
    splits = build_image_folder(ImageFolderConfig(type="image_folder", root=tmp_path, hr_size=16))
    assert splits.info.class_names == ("tench, Tinca tinca", "goldfish, Carassius auratus")


def test_other_folder_names_are_kept() -> None:
    from srdistill.data.image_folder import class_names

    assert class_names(["cat", "dog"]) == ("cat", "dog")
    assert class_names(["n01440764", "n99999999"]) == ("n01440764", "n99999999")  # not all known synsets


def test_jpeg_draft_decoding_covers_hr_size(tmp_path) -> None:
    """Draft decoding (a cheaper DCT-scaled decode of big JPEGs) gives the same size and nearly the same image."""
    import numpy as np
    from PIL import Image

    from srdistill.data.image_folder import FolderImages

    rng = np.random.default_rng(0)
    small = Image.fromarray(rng.integers(0, 256, (9, 12, 3), dtype=np.uint8))  # smooth, like a photo
    path = tmp_path / "big.JPEG"
    small.resize((1200, 900), Image.BICUBIC).save(path, quality=95)
    fast = FolderImages([(str(path), 0)], hr_size=64, channels=3)  # decodes at 1/8 scale: 150×113
    exact = FolderImages([(str(path), 0)], hr_size=64, channels=3, draft=False)
    a, b = fast[0][0].float(), exact[0][0].float()
    assert a.shape == b.shape == (3, 64, 64)
    assert (a - b).abs().mean() < 3.0  # out of 255


def test_a_16_bit_png_is_scaled_to_8_bits_not_clipped(tmp_path: Path) -> None:
    from srdistill.data.image_folder import decode

    pixels = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    Image.fromarray(pixels).save(tmp_path / "deep.png")
    image = decode(str(tmp_path / "deep.png"), 32, "L")
    assert torch.equal(image[0], torch.from_numpy(np.round(pixels / 257.0).astype(np.uint8)))


def test_floating_point_images_are_unreadable_not_guessed(tmp_path: Path) -> None:
    from srdistill.data.image_folder import FolderImages

    Image.fromarray(np.full((32, 32), 0.5, dtype=np.float32)).save(tmp_path / "float.tif")
    assert FolderImages([(str(tmp_path / "float.tif"), 0)], 32, 1)[0] == (None, str(tmp_path / "float.tif"))
