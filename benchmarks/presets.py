"""The benchmarks' recipes: the quickstart's and the paper's, with data any machine can make.

``quickstart`` is recipes/fmnist_darionet.yaml on Fashion-MNIST (random weights, so earlier runs
are not needed); ``paper`` is recipes/darionet_imagenet.yaml (RRDB 64/23/32 at 82×82, ResNet50 at
224) on a generated ImageNet-style tree of photo-like JPEGs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def quickstart_overrides(folder: Path, steps: int, batch: int) -> tuple[Path, list[str]]:
    return ROOT / "recipes" / "fmnist_darionet.yaml", [
        "teacher.weights=null",
        "student.weights=null",
        f"data.train_size={steps * batch}",
        f"data.val_size={2 * batch}",
        f"data.test_size={steps * batch}",
    ]


def paper_overrides(folder: Path, steps: int, batch: int) -> tuple[Path, list[str]]:
    tree = folder / "imagenet"
    per_class = -(-steps * batch // 2)  # two classes: at least steps × batch images
    write_tree(tree, {"train": per_class, "val": max(2, batch)})
    return ROOT / "recipes" / "darionet_imagenet.yaml", [
        f"data.root={tree}",
        "data.train_fraction=1.0",
        "teacher.weights=null",
        "student.weights=null",
        "train.num_workers=0",  # the recipe's 8 workers would compete with the compute on a small CPU;
        "compare.num_workers=0",  # --set train.num_workers=8 on a GPU machine (both loops use it)
    ]


PRESETS: dict[str, Callable[[Path, int, int], tuple[Path, list[str]]]] = {
    "quickstart": quickstart_overrides,
    "paper": paper_overrides,
}
#: (steps, batch) by preset and device type: enough work to time, little enough to finish
DEFAULTS = {("quickstart", "cpu"): (30, 64), ("paper", "cpu"): (3, 2), ("quickstart", "cuda"): (100, 256),
            ("paper", "cuda"): (30, 32)}  # fmt: skip


def write_tree(root: Path, counts: dict[str, int]) -> None:
    """An ImageNet-style tree of 320×288 photo-like JPEGs (resized and cropped to 256 on loading)."""
    rng = np.random.default_rng(0)
    for split, count in counts.items():
        for name in ("n01440764", "n01443537"):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                base = Image.fromarray(rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)).resize((320, 288))
                noisy = np.clip(np.asarray(base, np.int16) + rng.integers(-20, 20, (288, 320, 3)), 0, 255)
                Image.fromarray(noisy.astype(np.uint8)).save(folder / f"{i}.JPEG", quality=90)
