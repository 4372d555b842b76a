"""Images in class subfolders, ImageNet style: ``root/train/<class>/*.JPEG``, ``root/val/<class>/*``.

Every image is decoded with PIL, its shorter side resized to ``hr_size`` (PIL bicubic, which
antialiases), and centre-cropped to ``hr_size × hr_size``: the paper's 256×256 originals.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO, Literal

import torch
from PIL import Image
from pydantic import Field
from torch.utils.data import Dataset

from srdistill.data.base import DataInfo, DatasetConfig, Splits, labelled_splits
from srdistill.errors import UserError


class ImageFolderConfig(DatasetConfig):
    """Images in class subfolders (ImageNet layout), resized and centre-cropped to hr_size."""

    type: Literal["image_folder"]
    root: Path = Field(description="Folder holding the split folders.")
    train_dir: str = Field("train", description="Training split folder under root.")
    val_dir: str = Field("val", description="Validation split folder under root.")
    test_dir: str | None = Field(
        None, description="Test split folder; if unset, val_dir is split into validation and test halves."
    )
    train_fraction: float = Field(1.0, gt=0, le=1, description="Class-balanced share of train_dir to use.")
    val_fraction: float = Field(
        0.5, gt=0, lt=1, description="Share of val_dir used for validation when test_dir is unset."
    )
    hr_size: int = Field(256, ge=8, description="Side of the square originals (resize shorter side, centre crop).")
    channels: Literal[1, 3] = Field(3, description="3 for RGB, 1 for greyscale.")
    seed: int = Field(0, description="Seed of the subset and of the validation/test split.")
    jpeg_draft: bool = Field(
        True, description="Decode large JPEGs at 1/2, 1/4 or 1/8 scale when that still covers hr_size (faster)."
    )


def image_extensions() -> tuple[str, ...]:
    """Every file extension PIL can open."""
    return tuple(ext.lower() for ext in Image.registered_extensions())


#: PIL modes with more than 8 bits a sample (16-bit PNG and TIFF greys): ``convert`` would clip them to 255
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def converted(img: Image.Image, mode: str) -> Image.Image:
    """``img`` in PIL ``mode`` (``RGB`` or ``L``), a 16-bit image scaled to 8 bits rather than clipped; a
    ``ValueError`` (an unreadable image) for floating-point pixels, whose range no file states."""
    if img.mode in SIXTEEN_BIT:
        import numpy as np

        pixels = np.asarray(img, dtype=np.float64) / 257.0  # 65535 -> 255
        img = Image.fromarray(pixels.clip(0, 255).round().astype(np.uint8), "L")
    elif img.mode == "F":
        raise ValueError("floating-point pixels (PIL mode F) have no stated range")
    return img.convert(mode)


def images_under(folder: Path, what: str, fix: str) -> list[Path]:
    """The image files in ``folder`` and below it, by extension, sorted; an error naming ``what`` (and
    ``fix``) when the folder is missing, and one when it holds no image."""
    if not folder.is_dir():
        raise UserError(f"{what} not found: {folder}", fix)
    extensions = set(image_extensions())
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in extensions)
    if not paths:
        raise UserError(f"{folder} holds no images.", "Put image files (PNG, JPEG, ...) in it or below it.")
    return paths


class FolderImages(Dataset):
    """``(path, label)`` samples decoded and cropped to ``hr_size`` on access."""

    def __init__(self, samples: list[tuple[str, int]], hr_size: int, channels: int, draft: bool = True) -> None:
        self.samples = samples
        self.hr_size = hr_size
        self.mode = "RGB" if channels == 3 else "L"
        self.draft = draft

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]

    def __getitem__(self, i: int) -> tuple[torch.Tensor | None, int | str]:
        """``(uint8 image, label)``, or ``(None, path)`` for a file that cannot be decoded whole."""
        path, label = self.samples[i]
        try:
            return self._load(path), label
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            # PIL raises OSError for truncated and unidentified files; partial images are never used
            return None, path

    def _load(self, path: str) -> torch.Tensor:
        return decode(path, self.hr_size, self.mode, self.draft)


def decode(source: str | BinaryIO, hr_size: int, mode: str, draft: bool = True) -> torch.Tensor:
    """An image file (path or open binary file) as uint8 ``(C, s, s)``: shorter side resized to
    ``s = hr_size`` (PIL bicubic, antialiased), centre-cropped; ``mode`` is PIL's ``RGB`` or ``L``."""
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    with Image.open(source) as img:
        w, h = img.size
        # JPEG: let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers hr_size
        # (DCT-domain scaling, several times cheaper than a full decode of a large photo)
        if draft:
            img.draft(mode, (hr_size, hr_size))
        img = converted(img, mode)
    # shorter side to hr_size, the longer one scaled from the full-size image (as
    # torchvision's Resize(int) truncates it), so draft decoding keeps the same geometry
    s = hr_size
    size = [s, int(s * w / h)] if h <= w else [int(s * h / w), s]
    img = TF.resize(img, size, interpolation=InterpolationMode.BICUBIC, antialias=True)
    img = TF.center_crop(img, [s, s])
    return TF.pil_to_tensor(img)


def scan_classes(folder: Path, class_to_idx: dict[str, int] | None = None) -> tuple[list[tuple[str, int]], list[str]]:
    """``(path, label)`` of every image in ``folder``'s class subfolders, and the class names (sorted)."""
    from torchvision.datasets.folder import find_classes, make_dataset

    if not folder.is_dir():
        raise UserError(
            f"Image folder not found: {folder}",
            "Set data.root (and data.train_dir / data.val_dir) to folders laid out as <split>/<class>/<image>.",
        )
    if class_to_idx is None:
        try:
            classes, class_to_idx = find_classes(str(folder))
        except FileNotFoundError:
            raise UserError(
                f"{folder} has no class subfolders.",
                "Put each class's images in a subfolder named after the class.",
            ) from None
    else:
        classes = list(class_to_idx)
        extra = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in class_to_idx)
        if extra:
            raise UserError(
                f"{folder} has class folders the training split lacks: {', '.join(extra[:5])}",
                "Every split must use the training split's classes.",
            )
    samples = make_dataset(str(folder), class_to_idx, extensions=image_extensions(), allow_empty=True)
    found = {label for _, label in samples}
    empty = [c for c in classes if class_to_idx[c] not in found]
    if empty:
        more = f" (+{len(empty) - 5} more)" if len(empty) > 5 else ""
        raise UserError(
            f"{folder} has no images for {len(empty)} of its {len(classes)} classes: {', '.join(empty[:5])}{more}.",
            "Every class of the training split needs a folder with at least one image in every split.",
        )
    unreadable = _classes_without_a_readable_image(samples, classes)
    if unreadable:
        more = f" (+{len(unreadable) - 5} more)" if len(unreadable) > 5 else ""
        raise UserError(
            f"{folder}: no image of {len(unreadable)} classes can be decoded: {', '.join(unreadable[:5])}{more}.",
            "Replace the broken files (truncated downloads, wrong extensions) or remove the class folder.",
        )
    return samples, classes


def _classes_without_a_readable_image(samples: list[tuple[str, int]], classes: list[str]) -> list[str]:
    """Classes none of whose files decodes; each class stops at its first good file (one decode for most)."""
    ok: set[int] = set()
    for path, label in samples:
        if label in ok:
            continue
        try:
            with Image.open(path) as img:
                img.draft(img.mode, (64, 64))  # JPEG: a small DCT-scaled decode is enough to tell
                img.load()
            ok.add(label)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            pass
    return [c for i, c in enumerate(classes) if i not in ok]


def build_image_folder(cfg: ImageFolderConfig) -> Splits:
    train_samples, classes = scan_classes(cfg.root / cfg.train_dir)
    if len(classes) == 1:
        raise UserError(
            f"{cfg.root / cfg.train_dir} has one class folder ({classes[0]}): a classifier has nothing to tell "
            "apart (top-1 is 1.0 whatever it learns), and label metrics say nothing.",
            "Add a folder per class. For photos without classes use data.type: photo_folder "
            "(PSNR/SSIM and the teacher's agreement, no labels).",
        )
    class_to_idx = {c: i for i, c in enumerate(classes)}
    val_samples, _ = scan_classes(cfg.root / cfg.val_dir, class_to_idx)

    def make(samples: list[tuple[str, int]]) -> FolderImages:
        return FolderImages(samples, cfg.hr_size, cfg.channels, cfg.jpeg_draft)

    test_all = make(scan_classes(cfg.root / cfg.test_dir, class_to_idx)[0]) if cfg.test_dir is not None else None
    train, val, test = labelled_splits(make(train_samples), make(val_samples), test_all, cfg.train_fraction,
                                       cfg.val_fraction, cfg.seed, str(cfg.root / cfg.val_dir))  # fmt: skip

    info = DataInfo(
        channels=cfg.channels,
        num_classes=len(classes),
        hr_size=(cfg.hr_size, cfg.hr_size),
        class_names=class_names(classes),
    )
    return Splits(train=train, val=val, test=test, info=info)


def class_names(folders: list[str]) -> tuple[str, ...]:
    """Readable class names: ImageNet synset folders (``n01440764``) get timm's ImageNet descriptions."""
    if not folders or not all(re.fullmatch(r"n\d{8}", f) for f in folders):
        return tuple(folders)
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    if not set(folders) <= set(info.label_names()):
        return tuple(folders)
    return tuple(info.label_name_to_description(f) for f in folders)
