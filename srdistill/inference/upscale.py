"""``srdistill upscale``: super-resolve images of any size with a trained student, tile by tile."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from rich.console import Console

from srdistill.checkpoints import atomic_path
from srdistill.errors import UserError
from srdistill.imaging import resize
from srdistill.inference.colour import ColourPath, super_resolve_image
from srdistill.inference.memory import auto_tile
from srdistill.students.base import SuperResolver
from srdistill.ui.progress import ProgressBar

if TYPE_CHECKING:
    from PIL import Image

Precision = Literal["auto", "fp32", "bf16", "fp16"]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class UpscaleResult:
    written: list[Path] = field(default_factory=list)
    #: outputs that existed already and were left as they are (no ``--overwrite``)
    existing: list[Path] = field(default_factory=list)
    bad: list[tuple[Path, str]] = field(default_factory=list)
    #: how many images took each colour path other than SAME
    colour: Counter[ColourPath] = field(default_factory=Counter)
    tile: int = 0


@torch.inference_mode()
def upscale_tensor(
    student: SuperResolver, lr: torch.Tensor, tile: int = 256, overlap: int = 16, scale: float | None = None
) -> torch.Tensor:
    """Super-resolve ``lr`` ``(1, C, H, W)`` in ``[0, 1]``, ``tile`` input pixels at a time.

    Each tile is run with ``overlap`` pixels of context on every side, and only its centre is
    kept, so seams do not show and memory stays bounded whatever the image size. The result is
    float32 (whatever the network's precision), at the network's own scale, or ``scale`` times the
    input if given (bicubic resize).
    """
    _, c, h, w = lr.shape
    out: torch.Tensor | None = None
    finite: torch.Tensor | None = None
    s = 0
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            y0, x0 = max(0, top - overlap), max(0, left - overlap)
            y1, x1 = min(h, top + tile + overlap), min(w, left + tile + overlap)
            piece = student.upscale(lr[..., y0:y1, x0:x1])
            if piece.dtype == torch.float16:  # read once after the last tile: no device wait per tile
                finite = torch.isfinite(piece).all() if finite is None else finite & torch.isfinite(piece).all()
            piece = piece.float().clamp_(0.0, 1.0)
            if out is None:
                s = piece.shape[-1] // (x1 - x0)
                out = torch.empty(1, c, h * s, w * s, device=piece.device)
            th, tw = min(tile, h - top), min(tile, w - left)
            oy, ox = (top - y0) * s, (left - x0) * s
            out[..., top * s : (top + th) * s, left * s : (left + tw) * s] = piece[
                ..., oy : oy + th * s, ox : ox + tw * s
            ]
    assert out is not None
    if finite is not None and not bool(finite):
        raise UserError(
            "The network's activations overflowed float16 (its largest value is 65504).",
            "Pass --precision bf16 or --precision fp32.",
        )
    if scale is not None:
        out = resize(out, (max(1, round(h * scale)), max(1, round(w * scale))), "bicubic", antialias=True).clamp_(0, 1)
    return out


def image_files(source: Path) -> list[Path]:
    from srdistill.data.image_folder import images_under

    return [source] if source.is_file() else images_under(source, "Input", "Give an image file or a folder of images.")


def plan_outputs(source: Path, target: Path) -> list[tuple[Path, Path]]:
    """``(input, output)`` pairs; refuses any plan that could overwrite or re-read an input.

    A folder is written to a folder outside it (names and subfolders kept); a file to ``target``,
    or into ``target`` if that is a folder or has no extension.
    """
    files = image_files(source)
    if source.is_file():
        out = target / source.name if target.is_dir() or target.suffix == "" else target
        if out.resolve() == source.resolve():
            raise UserError(
                f"The output {out} is the input image itself.", "Give another file name or an output folder."
            )
        return [(source, out)]
    if target.exists() and not target.is_dir():
        raise UserError(
            f"The output {target} is an existing file, but the input {source} is a folder.",
            "Give an output folder (it is created if missing).",
        )
    src, dst = source.resolve(), target.resolve()
    if dst == src or dst.is_relative_to(src):
        raise UserError(
            f"The output folder {target} is {'the input folder' if dst == src else 'inside the input folder'} "
            f"{source}: inputs would be overwritten, or outputs read back as inputs on the next run.",
            f"Write to a folder outside {source}, e.g. {source.resolve().parent / (source.resolve().name + '_sr')}.",
        )
    return [(path, target / path.relative_to(source)) for path in files]


def upscale_files(
    student: SuperResolver,
    channels: int,
    source: Path,
    target: Path,
    device: torch.device,
    console: Console | None,
    *,
    tile: int | None = None,
    overlap: int = 16,
    scale: float | None = None,
    overwrite: bool = False,
    precision: Precision = "auto",
) -> UpscaleResult:
    """Super-resolve ``source`` (a file or a folder, recursively) into ``target``, keeping file names.

    Outputs that exist are skipped unless ``overwrite``, and every output is written atomically,
    so an interrupted run leaves only whole images and the same command completes it.
    ``tile=None`` picks the tile from free memory (:func:`srdistill.inference.memory.auto_tile`).
    The network runs in ``precision`` (:func:`on_device`).
    """
    from PIL import Image

    pairs = plan_outputs(source, target)
    result = UpscaleResult()
    todo = []
    for path, out_path in pairs:
        if out_path.exists() and not overwrite:
            result.existing.append(out_path)
        else:
            todo.append((path, out_path))
    student, dtype = on_device(student, device, precision)
    if tile is None and todo:
        choice = auto_tile(student, channels, device, overlap)
        tile = choice.tile
        if console is not None:
            console.print(choice.describe(device), highlight=False)
    result.tile = tile or 0

    def run(lr: torch.Tensor) -> torch.Tensor:
        assert tile is not None
        return upscale_tensor(student, lr.to(device, dtype, memory_format=torch.channels_last), tile, overlap, scale)

    with ProgressBar(console, "upscale", len(todo), log_every=max(1, len(todo) // 10)) as bar:
        for i, (path, out_path) in enumerate(todo, 1):
            try:
                with Image.open(path) as img:
                    img.load()
                    sr, colour = super_resolve_image(img, channels, run)
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
                result.bad.append((path, str(e).splitlines()[0] if str(e) else type(e).__name__))
                bar.update(i)
                continue
            except torch.OutOfMemoryError:
                raise UserError(
                    f"Out of {device.type} memory upscaling {path} with --tile {tile}.",
                    f"Pass a smaller --tile (e.g. --tile {max(8, (tile or 64) // 2)}); images written so far "
                    "are kept and the same command continues with the rest.",
                ) from None
            if colour is not ColourPath.SAME:
                result.colour[colour] += 1
            save_image(sr, out_path)
            result.written.append(out_path)
            bar.update(i)
    return result


def on_device(student: SuperResolver, device: torch.device, precision: Precision) -> tuple[SuperResolver, torch.dtype]:
    """The student on ``device`` for inference, channels-last, and the dtype its input must have.

    ``auto`` is fp16 on CUDA (tensor cores) and float32 elsewhere: a CPU without half-precision
    matrix units emulates it, slower. On the test photos the paper's 23-block RRDB in fp16 is
    within 60.8 dB PSNR of float32, in bf16 (three fewer mantissa bits) only 51.3 dB
    (docs/benchmarks.md); fp16's narrower range is checked, an overflow being an error. The weights themselves are
    cast, so no autocast is paid per call, and tiles are stitched in float32. Channels-last is
    cuDNN's fast convolution layout, and for RRDB inference oneDNN's too (docs/benchmarks.md).
    """
    dtype = DTYPES["fp16" if device.type == "cuda" else "fp32"] if precision == "auto" else DTYPES[precision]
    return student.to(device=device, dtype=dtype, memory_format=torch.channels_last).eval(), dtype


def save_image(image: Image.Image, path: Path) -> None:
    """Write ``image`` to ``path`` atomically, in the format its extension names."""
    from PIL import Image

    fmt = Image.registered_extensions().get(path.suffix.lower())
    # PNG at zlib level 1, as OpenCV (and so Real-ESRGAN) writes it: 5× as fast as PIL's default
    # level 6 on SR outputs, for files about 17% larger (docs/benchmarks.md)
    options = {"JPEG": {"quality": 95}, "PNG": {"compress_level": 1}}.get(fmt or "", {})
    try:
        with atomic_path(path) as tmp:
            image.save(tmp, format=fmt, **options)
    except (OSError, KeyError, ValueError) as e:
        reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise UserError(
            f"Cannot write {path}: {reason}.",
            "Check that the output folder is writable and has space, and that PIL can write this format. "
            "Images written so far are kept; the same command continues with the rest.",
        ) from None


def check_tiling(tile: int | None, overlap: int, scale: float | None) -> None:
    if overlap < 0:
        raise UserError(f"--overlap {overlap}: the context around each tile cannot be negative.", "E.g. --overlap 16.")
    if tile is not None and (tile < 8 or overlap >= tile):
        raise UserError(
            f"--tile {tile} --overlap {overlap}: need tile ≥ 8 and overlap < tile.", "E.g. --tile 256 --overlap 16."
        )
    if scale is not None and not (math.isfinite(scale) and scale > 0):
        raise UserError(f"--scale {scale}: need a positive number.", "E.g. --scale 3.125 (1 / 0.32).")
