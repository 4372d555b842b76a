"""Upscale speed and peak memory on real colour photos: seconds per megapixel, by tile size.

    python benchmarks/upscale_speed.py [--checkpoint PATH] [--tiles auto,256,64] [--device auto]
                                       [--rounds 1] [--json PATH]

Runs ``upscale_files`` (what ``srdistill upscale`` runs) on scikit-image's colour photos
(astronaut 512×512, chelsea 451×300, coffee 600×400, rocket 640×427: 0.91 megapixels of input)
with the paper's RRDB (64 features, 23 blocks; random weights unless ``--checkpoint``), once per
tile setting and round, rounds interleaved. Reports seconds per input megapixel (×4 gives 16×
the pixels out), and the peak memory: the CUDA allocator's peak on a GPU, the process's peak
resident memory on a CPU (which also counts Python and torch themselves).
"""

from __future__ import annotations

import argparse
import json
import resource
import runpy
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

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


def paper_student() -> SuperResolver:
    entry = catalog().students.get("rrdb")
    cfg = entry.config(type="rrdb", num_feat=64, num_block=23, num_grow_ch=32)
    info = DataInfo(channels=3, num_classes=0, hr_size=(0, 0), class_names=())
    return entry.build(cfg, info)


def write_photos(folder: Path) -> float:
    """The test photos as PNG files in ``folder``; returns their input megapixels."""
    PHOTOS["write"](folder, PHOTOS["TEST"])
    pixels = 0
    for path in folder.glob("*.png"):
        with Image.open(path) as image:
            pixels += image.width * image.height
    return pixels / 1e6


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
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    device = select_device(args.device)
    if args.checkpoint is None:
        student, channels, what = paper_student(), 3, "paper RRDB 64/23/32 (random weights)"
    else:
        try:
            (student, channels), what = load_student(args.checkpoint), str(args.checkpoint)
        except UserError as e:
            raise SystemExit(str(e)) from None
    seconds: dict[str, list[float]] = {}
    peaks: dict[str, int] = {}
    chosen: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        megapixels = write_photos(Path(tmp) / "photos")
        print(f"{what} on {device}; {len(PHOTOS['TEST'])} photos, {megapixels:.3f} input megapixels")
        # warm-up: kernels, cuDNN's algorithm choice, the allocator
        upscale_files(student, channels, Path(tmp) / "photos" / "chelsea.png", Path(tmp) / "warm.png", device, None,
                      tile=128, overwrite=True)  # fmt: skip
        for r in range(args.rounds):
            for tile in args.tiles:
                key = "auto" if tile is None else str(tile)
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                synchronize(device)
                start = time.perf_counter()
                result = upscale_files(student, channels, Path(tmp) / "photos", Path(tmp) / f"out-{key}", device,
                                       None, tile=tile, overlap=args.overlap, overwrite=True)  # fmt: skip
                synchronize(device)
                seconds.setdefault(key, []).append(time.perf_counter() - start)
                peaks[key] = max(peaks.get(key, 0), peak_bytes(device))
                chosen[key] = result.tile
                print(f"  round {r + 1}, tile {key} ({result.tile}): {seconds[key][-1]:.2f} s")
    rows: dict[str, Any] = {}
    peak_kind = "GPU allocator" if device.type == "cuda" else "process RSS"
    for key, values in seconds.items():
        median = statistics.median(values)
        rows[key] = {"tile": chosen[key], "seconds": median, "s_per_mp": median / megapixels,
                     "peak_gib": peaks[key] / 2**30}  # fmt: skip
        print(f"tile {key:>4} ({chosen[key]}): {median / megapixels:8.2f} s per input megapixel, "
              f"peak {peak_kind} {peaks[key] / 2**30:.2f} GiB")  # fmt: skip
    if args.json:
        info = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                "torch": torch.__version__, "megapixels": megapixels, "student": what, "tiles": rows}  # fmt: skip
        args.json.write_text(json.dumps(info, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
