"""Fashion-MNIST read from its IDX ``.gz`` files (Debian: ``apt-get install dataset-fashion-mnist``)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from srdistill.data.base import DataInfo, DatasetConfig, Splits, TensorImages, random_subset
from srdistill.errors import UserError

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
INSTALL_HINT = (
    "Install it with `sudo apt-get install dataset-fashion-mnist` (files land in "
    "/usr/share/datasets/fashion-mnist), or set data.root to a folder holding " + ", ".join(FILES.values())
)


class FashionMNISTConfig(DatasetConfig):
    """Fashion-MNIST (28×28 grey, 10 classes) from the IDX .gz files."""

    type: Literal["fashion_mnist"]
    root: Path = Field(Path("/usr/share/datasets/fashion-mnist"), description="Folder with the .gz files.")
    val_size: int = Field(5000, ge=1, description="Training images held out for validation.")
    train_size: int | None = Field(None, ge=1, description="Use only this many training images.")
    test_size: int | None = Field(None, ge=1, description="Use only this many test images.")
    seed: int = Field(0, description="Seed of the splits (independent of the training seed).")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format), gzip-compressed or not, as a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise UserError(f"Cannot read {path}: {e}", "The file is damaged; reinstall it. " + INSTALL_HINT) from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise UserError(f"{path} is not an IDX file of unsigned bytes.", INSTALL_HINT)
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(dims)):
        raise UserError(f"{path} is truncated ({len(data) - offset} bytes, expected {np.prod(dims)}).", INSTALL_HINT)
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def build_fashion_mnist(cfg: FashionMNISTConfig) -> Splits:
    root = cfg.root
    missing = [name for name in FILES.values() if not (root / name).is_file()]
    if missing:
        raise UserError(f"Fashion-MNIST not found in {root} (missing {', '.join(missing)}).", INSTALL_HINT)
    arrays = {key: read_idx(root / name) for key, name in FILES.items()}
    train_x = torch.from_numpy(arrays["train_images"].copy()).unsqueeze(1)
    train_y = torch.from_numpy(arrays["train_labels"].astype(np.int64))
    test_x = torch.from_numpy(arrays["test_images"].copy()).unsqueeze(1)
    test_y = torch.from_numpy(arrays["test_labels"].astype(np.int64))
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise UserError(
            f"{root}: image and label files disagree ({len(train_x)}/{len(train_y)} train, "
            f"{len(test_x)}/{len(test_y)} test).",
            INSTALL_HINT,
        )
    if cfg.val_size >= len(train_x):
        raise UserError(
            f"data.val_size={cfg.val_size} leaves no training images (there are {len(train_x)}).",
            "Choose a smaller data.val_size.",
        )

    order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(cfg.seed))
    val_idx = order[: cfg.val_size].sort().values
    rest = order[cfg.val_size :]
    train_idx = rest[random_subset(len(rest), cfg.train_size, cfg.seed + 1)].sort().values
    test_idx = random_subset(len(test_x), cfg.test_size, cfg.seed + 2)

    info = DataInfo(channels=1, num_classes=10, hr_size=(28, 28), class_names=CLASS_NAMES)
    return Splits(
        train=TensorImages(train_x[train_idx], train_y[train_idx]),
        val=TensorImages(train_x[val_idx], train_y[val_idx]),
        test=TensorImages(test_x[test_idx], test_y[test_idx]),
        info=info,
    )
