"""What every data set provides: three splits and the facts the models are built from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset


@dataclass(frozen=True)
class DataInfo:
    """Facts about a data set that components are sized from."""

    channels: int
    num_classes: int
    hr_size: tuple[int, int]
    class_names: tuple[str, ...]


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


def collate(items: list[tuple[torch.Tensor | None, int | str]]) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Stack a batch, leaving out unreadable images (``(None, path)`` items) and naming them.

    Returns ``(images, labels, bad_paths)``; ``images`` has zero rows if every item was bad.
    """
    good = [(img, label) for img, label in items if img is not None]
    bad = [str(label) for img, label in items if img is None]
    if not good:
        return torch.empty(0, dtype=torch.uint8), torch.empty(0, dtype=torch.long), bad
    images = torch.stack([img for img, _ in good])
    labels = torch.tensor([int(label) for _, label in good], dtype=torch.long)
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
