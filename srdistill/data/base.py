"""What every data set provides: three splits and the facts the models are built from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch.utils.data import Dataset, Subset

from srdistill.errors import UserError
from srdistill.registry import ComponentConfig


class Relabel(BaseModel):
    """A new label set: ``map`` sends each original class index to a new one named in ``names``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    names: tuple[str, ...] = Field(min_length=1, description="Names of the new classes, by index.")
    map: dict[int, int] = Field(description="Original class index -> new class index (every class listed).")

    @model_validator(mode="after")
    def _targets_exist(self) -> Relabel:
        bad = sorted({v for v in self.map.values() if not 0 <= v < len(self.names)})
        if bad:
            raise ValueError(f"map sends classes to {bad}, but names has only {len(self.names)} entries")
        return self


class DatasetConfig(ComponentConfig):
    """Base of data set configs: every data set can be relabelled to a new label set."""

    relabel: Relabel | None = Field(None, description="Train on a new label set (e.g. to fine-tune a teacher).")


#: the label of an image in a data set without labels (``DataInfo.num_classes == 0``)
NO_LABEL = -1


@dataclass(frozen=True)
class DataInfo:
    """Facts about a data set that components are sized from.

    Attributes:
        channels: 1 (greyscale) or 3 (RGB).
        num_classes: classes of the labels; 0 for a data set without labels (every label is
            :data:`NO_LABEL`), where only label-free metrics apply.
        hr_size: ``(height, width)`` of the originals; of the training crops when evaluation
            images differ in size.
        class_names: one name per class, by index.
    """

    channels: int
    num_classes: int
    hr_size: tuple[int, int]
    class_names: tuple[str, ...]

    @property
    def labelled(self) -> bool:
        return self.num_classes > 0


@dataclass(frozen=True)
class Splits:
    """Train / validation / test splits of one data set. Items are ``(uint8 (C, H, W), int)``."""

    train: Dataset
    val: Dataset
    test: Dataset
    info: DataInfo

    def sizes(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in ("train", "val", "test")}  # type: ignore[arg-type]


class TensorImages(Dataset):
    """Images held in memory as one uint8 tensor ``(N, C, H, W)`` with int64 labels."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4 or len(images) != len(labels):
            raise ValueError("expected uint8 images (N, C, H, W) and N labels")
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], int(self.labels[i])


class Relabelled(Dataset):
    """``dataset`` with its labels sent through ``mapping`` (unreadable items pass through)."""

    def __init__(self, dataset: Dataset, mapping: dict[int, int]) -> None:
        self.dataset, self.mapping = dataset, mapping

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[torch.Tensor | None, int | str]:
        image, label = self.dataset[i]
        return (image, label) if image is None else (image, self.mapping[int(label)])


def relabel(splits: Splits, spec: Relabel | None) -> Splits:
    """``splits`` with the new label set of ``spec`` (unchanged if None)."""
    from srdistill.errors import UserError

    if spec is None:
        return splits
    missing = sorted(set(range(splits.info.num_classes)) - set(spec.map))
    if missing:
        names = ", ".join(splits.info.class_names[i] for i in missing[:5])
        raise UserError(
            f"data.relabel.map does not say where {len(missing)} classes go: {names}.",
            f"Map every class index 0..{splits.info.num_classes - 1}.",
        )
    info = DataInfo(splits.info.channels, len(spec.names), splits.info.hr_size, spec.names)
    return Splits(*(Relabelled(getattr(splits, s), spec.map) for s in ("train", "val", "test")), info=info)


class Indexed(Dataset):
    """``dataset`` whose items also carry their index, for per-image caches: ``(image, label, i)``."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[torch.Tensor | None, int | str, int]:
        image, label = self.dataset[i]
        return image, label, i


Item = tuple[torch.Tensor | None, int | str] | tuple[torch.Tensor | None, int | str, int]


def collate(items: list[Item]) -> tuple[Any, ...]:
    """Stack a batch, leaving out unreadable images (``(None, path)`` items) and naming them.

    Returns ``(images, labels, bad_paths)``, and the kept items' int64 ``indices`` after them when
    the items are :class:`Indexed`'s triples; ``images`` has zero rows if every item was bad.
    """
    good = [item for item in items if item[0] is not None]
    bad = [str(item[1]) for item in items if item[0] is None]
    indexed = bool(items) and len(items[0]) == 3
    if not good:
        empty = (torch.empty(0, dtype=torch.uint8), torch.empty(0, dtype=torch.long), bad)
        return (*empty, torch.empty(0, dtype=torch.long)) if indexed else empty
    sizes = {tuple(item[0].shape) for item in good}  # type: ignore[union-attr]
    if len(sizes) > 1:
        from srdistill.errors import UserError

        raise UserError(
            f"One batch holds images of different sizes ({', '.join(map(str, sorted(sizes)[:3]))}): "
            "this data set keeps each image's own size.",
            "Evaluate one image at a time: set train.val_batch_size: 1 and compare.batch_size: 1.",
        )
    images = torch.stack([item[0] for item in good])  # type: ignore[misc]
    labels = torch.tensor([int(item[1]) for item in good], dtype=torch.long)
    if indexed:
        return images, labels, bad, torch.tensor([item[2] for item in good], dtype=torch.long)  # type: ignore[misc]
    return images, labels, bad


def stratified_split(labels: Sequence[int] | torch.Tensor, fractions: Sequence[float], seed: int) -> list[list[int]]:
    """Split indices class by class into parts of the given fractions, deterministically.

    Each class's indices are shuffled with ``seed`` and cut at the rounded cumulative
    fractions, so every part holds the same share of every class. Fractions may sum to less
    than 1 (the rest is dropped). Returned indices are sorted.
    """
    labels_t = torch.as_tensor(labels)
    parts: list[list[int]] = [[] for _ in fractions]
    generator = torch.Generator().manual_seed(seed)
    for cls in torch.unique(labels_t).tolist():
        idx = torch.nonzero(labels_t == cls).flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)].tolist()
        start, cum = 0, 0.0
        for p, frac in enumerate(fractions):
            cum += frac
            end = round(cum * len(idx))
            parts[p].extend(idx[start:end])
            start = end
    return [sorted(p) for p in parts]


def random_subset(n: int, size: int | None, seed: int) -> torch.Tensor:
    """``size`` indices of ``range(n)`` chosen with ``seed`` (all of them, in order, if None)."""
    if size is None or size >= n:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:size].sort().values


def labelled_splits(
    train_all: Any,
    val_all: Any,
    test_all: Any | None,
    train_fraction: float,
    val_fraction: float,
    seed: int,
    val_name: str,
) -> tuple[Dataset, Dataset, Dataset]:
    """Train, validation and test sets of labelled images (each with ``targets``): a class-balanced
    ``train_fraction`` of ``train_all``, and ``val_all`` cut in two by ``val_fraction`` when there is
    no ``test_all``. ``val_name`` names the validation images' source (a folder, a recipe key) in errors."""
    (train_idx,) = stratified_split(train_all.targets, [train_fraction], seed)
    if not train_idx:
        raise UserError(f"data.train_fraction={train_fraction} selects no training images.", "Raise it.")
    train: Dataset = Subset(train_all, train_idx) if train_fraction < 1 else train_all
    if test_all is not None:
        return train, val_all, test_all
    val_idx, test_idx = stratified_split(val_all.targets, [val_fraction, 1 - val_fraction], seed)
    if not val_idx or not test_idx:
        raise UserError(
            f"{val_name} has too few images ({len(val_all)}) to split into validation and test.",
            "Add images, or give a separate test split.",
        )
    return train, Subset(val_all, val_idx), Subset(val_all, test_idx)
