"""Decode cost of ImageNet-sized JPEGs into 256×256 originals, with and without JPEG draft mode.

    python benchmarks/decode.py [--images 200] [--size 500x375]

Writes JPEGs of the given size (ImageNet's average is about 482×418) to a temporary folder and
times ``FolderImages.__getitem__`` (decode, resize shorter side to 256, centre crop) on one core.
Draft mode only changes anything for JPEGs whose sides are both at least twice 256
(``benchmarks/jpeg_draft.py`` measures what it changes there).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from srdistill.data.image_folder import FolderImages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", default="500x375")
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        samples = []
        base = rng.integers(0, 256, size=(h // 8, w // 8, 3), dtype=np.uint8)
        for i in range(args.images):  # smooth images with noise: JPEG sizes like photos'
            img = Image.fromarray(base).resize((w, h), Image.BICUBIC)
            noisy = np.clip(np.asarray(img, dtype=np.int16) + rng.integers(-20, 20, (h, w, 3)), 0, 255)
            path = Path(tmp) / f"{i}.JPEG"
            Image.fromarray(noisy.astype(np.uint8)).save(path, quality=90)
            samples.append((str(path), 0))
        FolderImages(samples[:1], hr_size=256, channels=3)[0]  # the first decode imports torchvision: not timed
        for draft in (False, True):
            ds = FolderImages(samples, hr_size=256, channels=3)
            ds.draft = draft
            start = time.perf_counter()
            for i in range(len(ds)):
                ds[i]
            rate = len(ds) / (time.perf_counter() - start)
            print(f"{w}x{h} JPEG -> 256x256, draft={draft}: {rate:,.0f} images/s per core")


if __name__ == "__main__":
    main()
