"""Upscale speed and peak memory on real colour photos: seconds per megapixel, by tile size.

    python benchmarks/upscale_speed.py [--checkpoint PATH] [--tiles auto,256,64] [--device auto]
                                       [--precisions fp32,bf16] [--crop SIDE] [--rounds 1] [--json PATH]

Runs ``upscale_files`` (what ``srdistill upscale`` runs) on scikit-image's colour photos
(astronaut 512×512, chelsea 451×300, coffee 600×400, rocket 640×427: 0.91 megapixels of input;
``--crop`` takes centre crops instead, for slow devices) with the paper's RRDB (64 features, 23
blocks; random weights unless ``--checkpoint``), once per precision, tile setting and round,
rounds interleaved. Reports seconds per input megapixel (×4 gives 16× the pixels out), the peak
memory (the CUDA allocator's peak on a GPU, the process's peak resident memory on a CPU, which
also counts Python and torch themselves), and each precision's PSNR against fp32's outputs.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import resource
import runpy
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from srdistill.catalog import catalog
from srdistill.data.base import DataInfo
from srdistill.engine.devices import select_device, synchronize
from srdistill.errors import UserError
from srdistill.inference.student import load_student
from srdistill.inference.upscale import upscale_files
from srdistill.students.base import SuperResolver

ROOT = Path(__file__).resolve().parent.parent
#: the README's held-out colour photos, written by the script that writes them for the walkthrough
PHOTOS = runpy.run_path(str(ROOT / "scripts" / "skimage_photos.py"))


def paper_student(residual: bool) -> SuperResolver:
    """The paper's RRDB with seeded random weights; ``residual`` adds a bicubic upscale of the input to
    its output, so that the output is a photo (a random network alone gives a near-constant image,
    in which precision differences hide)."""
    torch.manual_seed(0)
    entry = catalog().students.get("rrdb")
    cfg = entry.config(type="rrdb", num_feat=64, num_block=23, num_grow_ch=32, residual=residual)
    info = DataInfo(channels=3, num_classes=0, hr_size=(0, 0), class_names=())
    student = entry.build(cfg, info)
    if residual:  # its last layer starts at zero (exactly bicubic): give it a correction to make
        torch.nn.init.normal_(student.net.conv_last.weight, std=0.01)
    return student


def write_photos(folder: Path, crop: int | None) -> float:
    """The test photos (centre crops of side ``crop``) as PNG files in ``folder``; returns their megapixels."""
    PHOTOS["write"](folder, PHOTOS["TEST"])
    pixels = 0
    for path in folder.glob("*.png"):
        with Image.open(path) as image:
            if crop is not None:
                left, top = max(0, (image.width - crop) // 2), max(0, (image.height - crop) // 2)
                image = image.crop((left, top, left + min(crop, image.width), top + min(crop, image.height)))
                image.save(path)
            pixels += image.width * image.height
    return pixels / 1e6


def psnr(folder: Path, reference: Path) -> float:
    """PSNR (dB) of the images in ``folder`` against those of the same names in ``reference``."""
    errors = []
    for path in sorted(reference.glob("*.png")):
        a = np.asarray(Image.open(path), dtype=np.float64)
        errors.append(np.mean((a - np.asarray(Image.open(folder / path.name), dtype=np.float64)) ** 2))
    mse = float(np.mean(errors))
    return 10 * math.log10(255**2 / mse) if mse > 0 else math.inf


def tile_list(text: str) -> list[int | None]:
    try:
        return [None if t == "auto" else int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give tile sides or 'auto', comma-separated: auto,256,64") from None


def peak_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="A student checkpoint (default: paper RRDB).")
    parser.add_argument("--tiles", type=tile_list, default=[None],
                        help="Comma-separated tile sides, 'auto' for the automatic one.")  # fmt: skip
    parser.add_argument("--overlap", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--precisions", type=lambda t: t.split(","), default=["fp32"],
                        help="Comma-separated: fp32, bf16, fp16 or auto.")  # fmt: skip
    parser.add_argument("--crop", type=int, default=None, help="Centre-crop the photos to this side (slow devices).")
    parser.add_argument("--residual", action="store_true", help="Paper RRDB as a residual student (see paper_student).")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    device = select_device(args.device)
    if args.checkpoint is None:
        student, channels = paper_student(args.residual), 3
        what = f"paper RRDB 64/23/32 (random weights{', residual' if args.residual else ''})"
    else:
        try:
            (student, channels), what = load_student(args.checkpoint), str(args.checkpoint)
        except UserError as e:
            raise SystemExit(str(e)) from None
    # a copy per precision: casting the weights to bf16 and back would round them
    models = {precision: copy.deepcopy(student) for precision in args.precisions}
    seconds: dict[str, list[float]] = {}
    peaks: dict[str, int] = {}
    chosen: dict[str, int] = {}
    quality: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        photos = Path(tmp) / "photos"
        megapixels = write_photos(photos, args.crop)
        print(f"{what} on {device}; {len(PHOTOS['TEST'])} photos, {megapixels:.3f} input megapixels")
        for precision, model in models.items():  # warm-up: kernels, cuDNN's algorithm choice, the allocator
            upscale_files(model, channels, photos / "chelsea.png", Path(tmp) / "warm.png", device, None, tile=128,
                          overwrite=True, precision=precision)  # fmt: skip
        for r in range(args.rounds):
            for precision, model in models.items():
                for tile in args.tiles:
                    key = f"{precision} {'auto' if tile is None else tile}"
                    if device.type == "cuda":
                        torch.cuda.reset_peak_memory_stats(device)
                    synchronize(device)
                    start = time.perf_counter()
                    result = upscale_files(model, channels, photos, Path(tmp) / key.replace(" ", "-"), device, None,
                                           tile=tile, overlap=args.overlap, overwrite=True,
                                           precision=precision)  # fmt: skip
                    synchronize(device)
                    seconds.setdefault(key, []).append(time.perf_counter() - start)
                    peaks[key] = max(peaks.get(key, 0), peak_bytes(device))
                    chosen[key] = result.tile
                    print(f"  round {r + 1}, {key} ({result.tile}): {seconds[key][-1]:.2f} s", flush=True)
        for key in seconds:
            reference = Path(tmp) / ("fp32 " + key.split(" ")[1]).replace(" ", "-")
            if reference.is_dir():
                quality[key] = psnr(Path(tmp) / key.replace(" ", "-"), reference)
    rows: dict[str, Any] = {}
    peak_kind = "GPU allocator" if device.type == "cuda" else "process RSS"
    for key, values in seconds.items():
        median = statistics.median(values)
        rows[key] = {"tile": chosen[key], "seconds": median, "s_per_mp": median / megapixels,
                     "peak_gib": peaks[key] / 2**30, "psnr_vs_fp32_db": quality.get(key, math.nan)}  # fmt: skip
        print(
            f"{key:>10} ({chosen[key]}): {median / megapixels:8.2f} s per input megapixel, "
            f"peak {peak_kind} {peaks[key] / 2**30:.2f} GiB, PSNR against fp32 {rows[key]['psnr_vs_fp32_db']:.1f} dB"
        )
    if args.json:
        info = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                "torch": torch.__version__, "megapixels": megapixels, "student": what, "runs": rows}  # fmt: skip
        args.json.write_text(json.dumps(info, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
