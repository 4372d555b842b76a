"""Fashion-MNIST from its IDX .gz files: reading, splits, and clear errors for bad files."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from srdistill.catalog import catalog
from srdistill.data.base import Splits, TensorImages
from srdistill.data.fashion_mnist import FILES, FashionMNISTConfig, build_fashion_mnist, read_idx
from srdistill.errors import UserError

N_TRAIN, N_TEST = 240, 60  # what the fmnist_root fixture writes


def build(root: Path, **settings) -> Splits:
    return build_fashion_mnist(FashionMNISTConfig(type="fashion_mnist", root=root, **settings))


def digests(images: torch.Tensor) -> set[str]:
    return {hashlib.sha1(im.numpy().tobytes()).hexdigest() for im in images}


@pytest.fixture
def copy_root(fmnist_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "fmnist"
    shutil.copytree(fmnist_root, root)
    return root


def test_reads_the_files(fmnist_root: Path) -> None:
    splits = catalog().datasets.build(FashionMNISTConfig(type="fashion_mnist", root=fmnist_root, val_size=40))
    assert splits.sizes() == {"train": N_TRAIN - 40, "val": 40, "test": N_TEST}
    assert splits.info.channels == 1 and splits.info.num_classes == 10 and splits.info.hr_size == (28, 28)
    assert splits.info.class_names[0] == "T-shirt/top" and len(splits.info.class_names) == 10
    image, label = splits.train[0]
    assert image.dtype == torch.uint8 and image.shape == (1, 28, 28)
    assert isinstance(label, int) and 0 <= label < 10
    # test split is the t10k files, in order
    with gzip.open(fmnist_root / "t10k-images-idx3-ubyte.gz") as f:
        first = np.frombuffer(f.read(), dtype=np.uint8, offset=16)[: 28 * 28].reshape(28, 28)
    assert torch.equal(splits.test[0][0][0], torch.from_numpy(first.copy()))


def test_labels_match_images(fmnist_root: Path) -> None:
    """The fixture's class k is a bright block whose row and width depend on k."""
    splits = build(fmnist_root, val_size=40)
    for dataset in (splits.train, splits.val, splits.test):
        for i in range(0, len(dataset), 7):
            image, label = dataset[i]
            rows = slice(1 + (label // 2) * 5, 6 + (label // 2) * 5)
            assert image[0, rows, 11:17].float().mean() > 150  # every block covers the middle
            side = image[0, rows, 7:10].float().mean()  # covered by the wide blocks of odd classes only
            assert (side > 150) if label % 2 else (side < 100)


def test_validation_is_held_out_of_training(fmnist_root: Path) -> None:
    splits = build(fmnist_root, val_size=40)
    assert isinstance(splits.train, TensorImages) and isinstance(splits.val, TensorImages)
    train, val = digests(splits.train.images), digests(splits.val.images)
    assert len(train) == N_TRAIN - 40 and len(val) == 40
    assert not train & val


def test_split_sizes(fmnist_root: Path) -> None:
    splits = build(fmnist_root, val_size=100, train_size=50, test_size=20)
    assert splits.sizes() == {"train": 50, "val": 100, "test": 20}
    all_train = build(fmnist_root, val_size=100, train_size=10_000)
    assert all_train.sizes() == {"train": N_TRAIN - 100, "val": 100, "test": N_TEST}


def test_splits_are_deterministic_per_seed(fmnist_root: Path) -> None:
    a = build(fmnist_root, val_size=40, train_size=60, test_size=20, seed=3)
    b = build(fmnist_root, val_size=40, train_size=60, test_size=20, seed=3)
    c = build(fmnist_root, val_size=40, train_size=60, test_size=20, seed=4)
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(a, split).images, getattr(b, split).images), split
        assert torch.equal(getattr(a, split).labels, getattr(b, split).labels), split
        assert not torch.equal(getattr(a, split).images, getattr(c, split).images), split


def test_val_size_must_leave_training_images(fmnist_root: Path) -> None:
    with pytest.raises(UserError, match=r"data\.val_size=240 leaves no training images"):
        build(fmnist_root, val_size=N_TRAIN)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        build(tmp_path / "nowhere")
    message = str(info.value)
    assert str(tmp_path / "nowhere") in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_missing_file(copy_root: Path) -> None:
    (copy_root / FILES["test_labels"]).unlink()
    with pytest.raises(UserError, match=r"missing t10k-labels-idx1-ubyte\.gz") as info:
        build(copy_root)
    assert "apt-get install dataset-fashion-mnist" in str(info.value)


def test_truncated_gzip(copy_root: Path) -> None:
    path = copy_root / FILES["train_images"]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="Cannot read") as info:
        build(copy_root, val_size=40)
    assert str(path) in str(info.value)


def test_not_gzip(copy_root: Path) -> None:
    (copy_root / FILES["train_labels"]).write_text("<html>404 not found</html>")
    with pytest.raises(UserError, match="Cannot read"):
        build(copy_root, val_size=40)


def test_corrupt_gzip(copy_root: Path) -> None:
    """Damaged compressed data (a bad download): zlib reports it, not gzip's OSError."""
    path = copy_root / FILES["train_images"]
    data = bytearray(path.read_bytes())
    for i in range(40, 200):  # inside the deflate stream, after the gzip header
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(UserError) as info:
        build(copy_root, val_size=40)
    assert str(path) in str(info.value)


def test_short_payload(copy_root: Path) -> None:
    path = copy_root / FILES["test_images"]
    with gzip.open(path) as f:
        data = f.read()
    with gzip.open(path, "wb") as f:
        f.write(data[:-100])
    with pytest.raises(UserError, match="truncated"):
        build(copy_root, val_size=40)


def test_not_an_idx_file(copy_root: Path) -> None:
    with gzip.open(copy_root / FILES["test_labels"], "wb") as f:
        f.write(b"\x1f\x8bnot idx at all")
    with pytest.raises(UserError, match="not an IDX file"):
        build(copy_root, val_size=40)


def test_labels_and_images_of_different_lengths(copy_root: Path, idx_writer) -> None:
    """E.g. the train images beside the t10k labels: a user error, reported as one."""
    idx_writer(copy_root / FILES["train_labels"], np.zeros(N_TRAIN - 1, dtype=np.uint8))
    with pytest.raises(UserError):
        build(copy_root, val_size=40)


def test_read_idx_plain_and_gzip(tmp_path: Path, idx_writer) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    idx_writer(tmp_path / "a.gz", array)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), array)
    with gzip.open(tmp_path / "a.gz") as f:
        (tmp_path / "a").write_bytes(f.read())
    assert np.array_equal(read_idx(tmp_path / "a"), array)
