"""What JPEG draft decoding changes in the 256×256 originals, and what it saves.

    python benchmarks/jpeg_draft.py [--sides 520,640,800,1024,1400] [--teacher-weights PATH] [--json PATH]

``data.jpeg_draft`` lets libjpeg decode a large JPEG at 1/2, 1/4 or 1/8 scale (in the DCT domain)
when that still covers ``hr_size``, before the resize to 256: faster, but not the pixels of a full
decode. This writes large JPEGs (scikit-image's nine colour photos, each resized so its shorter
side is each of ``--sides``, all more than twice 256, plus a mirrored copy, saved at quality 90)
and decodes each one as the loader does (``data.image_folder.decode``) with draft on and off.

Reports the pixel difference of the originals (mean and largest absolute difference in grey
levels, PSNR), for scale the difference that re-saving the full decode's original as a quality-95
JPEG makes, and the decode rate per core both ways. With ``--teacher-weights`` (torchvision's
ImageNet ResNet50 file, resnet50-0676ba61.pth, as the paper's recipe names it), also the
teacher's top-1 agreement between the two decodes.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from srdistill.data.image_folder import decode

COLOUR = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
          "colorwheel", "logo")  # fmt: skip
HR = 256


def write_jpegs(folder: Path, sides: list[int]) -> list[Path]:
    from skimage import data

    paths = []
    for name in COLOUR:
        photo = Image.fromarray(getattr(data, name)()[..., :3])
        for side in sides:
            scale = side / min(photo.size)
            big = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS)
            for flip in (False, True):
                image = big.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if flip else big
                path = folder / f"{name}-{side}{'-flip' if flip else ''}.jpg"
                image.save(path, quality=90)
                paths.append(path)
    return paths


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 10 * math.log10(255**2 / mse) if mse > 0 else math.inf


def resaved(original: np.ndarray) -> np.ndarray:
    """``original`` (C, H, W) after a round trip through a quality-95 JPEG."""
    buffer = io.BytesIO()
    Image.fromarray(original.transpose(1, 2, 0)).save(buffer, format="JPEG", quality=95)
    return np.asarray(Image.open(buffer)).transpose(2, 0, 1)


def rate(paths: list[Path], draft: bool) -> float:
    start = time.perf_counter()
    for path in paths:
        decode(str(path), HR, "RGB", draft)
    return len(paths) / (time.perf_counter() - start)


def agreement(weights: Path, full: list[np.ndarray], drafted: list[np.ndarray]) -> float:
    """Share of images whose top-1 class the paper's teacher keeps between the two decodes."""
    from srdistill.catalog import catalog
    from srdistill.data.base import DataInfo

    entry = catalog().teachers.get("timm")
    cfg = entry.config(type="timm", model="resnet50.tv_in1k", weights=weights, num_classes=1000)
    teacher = entry.build(cfg, DataInfo(channels=3, num_classes=1000, hr_size=(HR, HR), class_names=())).freeze()
    with torch.no_grad():
        classes = [teacher(torch.from_numpy(np.stack(images)).float() / 255).argmax(1) for images in (full, drafted)]
    return float((classes[0] == classes[1]).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sides", default="520,640,800,1024,1400", help="Shorter sides of the JPEGs (> 512).")
    parser.add_argument("--teacher-weights", type=Path, default=None, help="ImageNet ResNet50 weights (.pth).")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    sides = [int(s) for s in args.sides.split(",")]
    if min(sides) <= 2 * HR:
        raise SystemExit(f"--sides: each must exceed {2 * HR}, or draft mode does nothing")
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_jpegs(Path(tmp), sides)
        full = [decode(str(p), HR, "RGB", False).numpy() for p in paths]
        drafted = [decode(str(p), HR, "RGB", True).numpy() for p in paths]
        rates = {"full": rate(paths, False), "draft": rate(paths, True)}
    diffs = [np.abs(a.astype(np.int16) - b) for a, b in zip(full, drafted, strict=True)]
    result: dict[str, Any] = {
        "images": len(paths), "sides": sides,
        "mean_abs_grey_levels": float(np.mean([d.mean() for d in diffs])),
        "largest_abs_grey_levels": int(max(d.max() for d in diffs)),
        "share_of_pixels_changed": float(np.mean([(d > 0).mean() for d in diffs])),
        "psnr_db_median": float(np.median([psnr(a, b) for a, b in zip(full, drafted, strict=True)])),
        "psnr_db_worst": float(min(psnr(a, b) for a, b in zip(full, drafted, strict=True))),
        "jpeg95_resave_psnr_db_median": float(np.median([psnr(a, resaved(a)) for a in full])),
        "images_per_s_per_core": rates,
    }  # fmt: skip
    if args.teacher_weights is not None:
        result["teacher_top1_agreement"] = agreement(args.teacher_weights, full, drafted)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
