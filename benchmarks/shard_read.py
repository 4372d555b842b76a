"""Read rate of the ``shards`` data set against ``image_folder`` on the same JPEGs, in interleaved rounds.

    python benchmarks/shard_read.py [--images 400] [--size 500x375] [--per-shard 100] [--rounds 3]

Writes an ImageNet-style tree of JPEGs (4 classes) to a temporary folder, packs it with
``srdistill shards``' packer, and times one pass over the training split of each data set on
one core: the raw bytes alone (open + read for a file, one pread for a shard member), and the
full item (decode, resize the shorter side to 256, centre crop). Files are in the page cache
in both cases (they were just written), so this measures the per-sample overhead of each
layout, not a disk or network file system. Also times indexing the shards (once) and a build
that finds the index cached.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from srdistill.data.image_folder import ImageFolderConfig, build_image_folder
from srdistill.data.shard_writer import pack
from srdistill.data.shards import ShardsConfig, build_shards


def write_tree(root: Path, images: int, w: int, h: int) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, size=(h // 8, w // 8, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(base).resize((w, h), Image.BICUBIC), dtype=np.int16)
    for split, n in (("train", images), ("val", 8)):
        for i in range(n):  # smooth images with noise: JPEG sizes like photos'
            folder = root / split / f"n{i % 4:08d}"
            folder.mkdir(parents=True, exist_ok=True)
            noisy = np.clip(smooth + rng.integers(-20, 20, (h, w, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(noisy).save(folder / f"{i}.JPEG", quality=90)


def raw_folder(dataset) -> None:  # type: ignore[no-untyped-def]
    for path, _ in dataset.samples:
        with open(path, "rb") as f:
            f.read()


def raw_shards(dataset) -> None:  # type: ignore[no-untyped-def]
    for i in range(len(dataset)):
        os.pread(dataset._fd(int(dataset.shard[i])), int(dataset.sizes[i]), int(dataset.offsets[i]))


def items(dataset) -> None:  # type: ignore[no-untyped-def]
    for i in range(len(dataset)):
        dataset[i]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--size", default="500x375")
    parser.add_argument("--per-shard", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_tree(root / "tree", args.images, w, h)
        patterns = {
            split: pack(root / "tree" / split, root / "shards" / split, max_count=args.per_shard).pattern
            for split in ("train", "val")
        }
        build_shards(ShardsConfig(type="shards", **patterns, cache_dir=str(root / "warm-up")))  # imports
        cfg = ShardsConfig(type="shards", **patterns, cache_dir=str(root / "cache"))
        start = time.perf_counter()
        shards = build_shards(cfg).train
        index_s = time.perf_counter() - start
        start = time.perf_counter()
        build_shards(cfg)
        cached_s = time.perf_counter() - start
        folder = build_image_folder(ImageFolderConfig(type="image_folder", root=root / "tree")).train
        n = len(folder)
        print(f"{n} JPEGs of {w}x{h} in {len(list((root / 'shards').glob('train-*.tar')))} shards; "
              f"indexing {n / index_s:,.0f} images/s (empty cache), cached build {cached_s * 1e3:.0f} ms")  # fmt: skip
        cases = {
            "folder bytes": lambda: raw_folder(folder),
            "shard bytes": lambda: raw_shards(shards),
            "folder items": lambda: items(folder),
            "shard items": lambda: items(shards),
        }
        rates: dict[str, list[float]] = {name: [] for name in cases}
        for r in range(args.rounds):
            order = list(cases) if r % 2 == 0 else list(reversed(cases))
            for name in order:
                start = time.perf_counter()
                cases[name]()
                rates[name].append(n / (time.perf_counter() - start))
        for name, values in rates.items():
            print(f"{name:13s}: {statistics.median(values):>9,.0f} images/s per core "
                  f"(median of {len(values)}: {', '.join(f'{v:,.0f}' for v in values)})")  # fmt: skip


if __name__ == "__main__":
    main()
