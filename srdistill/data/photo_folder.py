"""A folder of photos without labels, kept at full resolution: ``root/**/*.jpg`` (any depth, any size).

Sizes. Evaluation images keep their own size, only centre-cropped down to a multiple of
``multiple`` on each side (at most ``multiple - 1`` pixels), so that the degradation's round
trip is exact: with bicubic ×0.32 (8/25) a side of 25·k pixels becomes exactly 8·k, and the SR
image comes back at 25·k. Nothing is resized and nothing is cropped square. An image smaller
than ``multiple`` on a side is skipped and named in bad_files.txt, as unreadable files are; 16-bit
images are scaled to 8 bits.

Batches. Evaluation images differ in size, so validation and ``compare`` run one image per
batch (``train.val_batch_size: 1``, ``compare.batch_size: 1``); a larger batch of mixed sizes
is refused with that advice. Training takes ``crops_per_image`` random square crops of
``train_crop`` pixels from each image per epoch, which batch as usual.

Labels. There are none: ``DataInfo.num_classes`` is 0 and every label is ``NO_LABEL``, so the
label metrics (top1, top5, ce) are left out (they come out NaN), while PSNR, SSIM and the
teacher's agreement and logit MSE between original and SR image apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from PIL import Image
from pydantic import Field, model_validator
from torch.utils.data import Dataset

from srdistill.data.base import NO_LABEL, DataInfo, DatasetConfig, Splits
from srdistill.errors import UserError


class PhotoFolderConfig(DatasetConfig):
    """Photos without labels at full resolution (sides rounded down to a multiple); random crops to train."""

    type: Literal["photo_folder"]
    root: Path = Field(description="Folder of images, searched recursively.")
    val_fraction: float = Field(0.1, ge=0, lt=1, description="Share of the images for validation (at least one).")
    test_fraction: float = Field(
        0.2, gt=0, le=1, description="Share for the test split; 1.0: all of them, every split the whole folder "
        "(to compare methods on a folder, not to train on it).",
    )  # fmt: skip
    multiple: int = Field(
        25, ge=1, description="Sides are centre-cropped down to a multiple of this; 25 makes bicubic ×0.32 exact."
    )
    train_crop: int = Field(100, ge=8, description="Side of the random square training crops (a multiple of multiple).")
    crops_per_image: int = Field(16, ge=1, description="Random training crops drawn from each image per epoch.")
    channels: Literal[1, 3] = Field(3, description="3 for RGB, 1 for greyscale (luma).")
    seed: int = Field(0, description="Seed of the split into train, validation and test images.")
    relabel: None = Field(None, description="Not available: photos have no labels.")

    @model_validator(mode="after")
    def _crop_is_a_multiple(self) -> PhotoFolderConfig:
        if self.train_crop % self.multiple:
            raise ValueError(f"train_crop {self.train_crop} is not a multiple of multiple ({self.multiple})")
        return self


def rounded_size(size: tuple[int, int], multiple: int) -> tuple[int, int]:
    """``(h, w)`` rounded down to multiples of ``multiple``, at least one multiple."""
    return tuple(max(multiple, s // multiple * multiple) for s in size)  # type: ignore[return-value]


class Photos(Dataset):
    """``(uint8 (C, H, W), NO_LABEL)`` items, or ``(None, name)`` for a file that cannot be decoded or
    is smaller than ``multiple`` on a side (its name then says so, in bad_files.txt too).

    ``crop`` set: a random ``crop × crop`` window (a smaller image is first enlarged, bicubic,
    to cover it). ``crop`` None: the whole image, centre-cropped to :func:`rounded_size`.
    """

    def __init__(
        self, paths: list[Path], channels: int, multiple: int, crop: int | None = None, repeats: int = 1
    ) -> None:
        self.paths = paths * repeats
        self.mode = "RGB" if channels == 3 else "L"
        self.multiple = multiple
        self.crop = crop

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor | None, int | str]:
        from srdistill.data.image_folder import converted

        path = self.paths[i]
        try:
            with Image.open(path) as img:
                img.load()
                image = converted(img, self.mode)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            return None, str(path)
        if min(image.size) < self.multiple:  # it would be enlarged into a picture of nothing
            m = self.multiple
            return None, f"{path} ({image.width}×{image.height}: smaller than {m}×{m}, data.multiple)"
        return self._shape(image), NO_LABEL

    def _shape(self, image: Image.Image) -> torch.Tensor:
        from torchvision.transforms.v2 import functional as TF

        if self.crop is None:
            h, w = rounded_size((image.height, image.width), self.multiple)
            top, left = (image.height - h) // 2, (image.width - w) // 2
            return TF.pil_to_tensor(image.crop((left, top, left + w, top + h)))
        c = self.crop
        if min(image.size) < c:
            scale = c / min(image.size)
            size = (max(c, round(image.width * scale)), max(c, round(image.height * scale)))
            image = image.resize(size, Image.Resampling.BICUBIC)
        top = int(torch.randint(0, image.height - c + 1, ()))
        left = int(torch.randint(0, image.width - c + 1, ()))
        return TF.pil_to_tensor(image.crop((left, top, left + c, top + c)))


def find_photos(root: Path) -> list[Path]:
    from srdistill.data.image_folder import images_under

    return images_under(root, "Photo folder", "Set data.root to a folder of images.")


def build_photo_folder(cfg: PhotoFolderConfig) -> Splits:
    paths = find_photos(cfg.root)
    order = torch.randperm(len(paths), generator=torch.Generator().manual_seed(cfg.seed)).tolist()
    shuffled = [paths[i] for i in order]
    if cfg.test_fraction == 1.0:
        train = val = test = shuffled
    else:
        n_test = max(1, round(len(paths) * cfg.test_fraction))
        n_val = max(1, round(len(paths) * cfg.val_fraction))
        if n_test + n_val >= len(paths):
            raise UserError(
                f"{cfg.root} has {len(paths)} images: too few for a training, a validation ({n_val}) "
                f"and a test ({n_test}) split.",
                "Add images, or set data.test_fraction: 1.0 to compare methods on the whole folder.",
            )
        test, val, train = shuffled[:n_test], shuffled[n_test : n_test + n_val], shuffled[n_test + n_val :]
    info = DataInfo(channels=cfg.channels, num_classes=0, hr_size=(cfg.train_crop, cfg.train_crop), class_names=())
    return Splits(
        train=Photos(sorted(train), cfg.channels, cfg.multiple, cfg.train_crop, cfg.crops_per_image),
        val=Photos(sorted(val), cfg.channels, cfg.multiple),
        test=Photos(sorted(test), cfg.channels, cfg.multiple),
        info=info,
    )
