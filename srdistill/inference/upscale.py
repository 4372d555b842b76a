"""``srdistill upscale``: super-resolve images of any size with a trained student, tile by tile."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.console import Console

from srdistill.errors import UserError
from srdistill.imaging import resize
from srdistill.students.base import SuperResolver
from srdistill.ui.progress import ProgressBar


@dataclass
class UpscaleResult:
    written: list[Path] = field(default_factory=list)
    bad: list[tuple[Path, str]] = field(default_factory=list)


@torch.inference_mode()
def upscale_tensor(
    student: SuperResolver, lr: torch.Tensor, tile: int = 256, overlap: int = 16, scale: float | None = None
) -> torch.Tensor:
    """Super-resolve ``lr`` ``(1, C, H, W)`` in ``[0, 1]``, ``tile`` input pixels at a time.

    Each tile is run with ``overlap`` pixels of context on every side, and only its centre is
    kept, so seams do not show and memory stays bounded whatever the image size. The result is
    the network's own scale, or ``scale`` times the input if given (bicubic resize).
    """
    _, c, h, w = lr.shape
    out: torch.Tensor | None = None
    s = 0
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            y0, x0 = max(0, top - overlap), max(0, left - overlap)
            y1, x1 = min(h, top + tile + overlap), min(w, left + tile + overlap)
            piece = student.upscale(lr[..., y0:y1, x0:x1]).clamp_(0.0, 1.0)
            if out is None:
                s = piece.shape[-1] // (x1 - x0)
                out = torch.empty(1, c, h * s, w * s, dtype=piece.dtype, device=piece.device)
            th, tw = min(tile, h - top), min(tile, w - left)
            oy, ox = (top - y0) * s, (left - x0) * s
            out[..., top * s : (top + th) * s, left * s : (left + tw) * s] = piece[
                ..., oy : oy + th * s, ox : ox + tw * s
            ]
    assert out is not None
    if scale is not None:
        out = resize(out, (max(1, round(h * scale)), max(1, round(w * scale))), "bicubic", antialias=True).clamp_(0, 1)
    return out


def image_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise UserError(f"Input not found: {source}", "Give an image file or a folder of images.")
    from srdistill.data.image_folder import image_extensions

    files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in image_extensions())
    if not files:
        raise UserError(f"No images in {source}.", "Put image files (PNG, JPEG, ...) in the folder.")
    return files


def upscale_files(
    student: SuperResolver,
    channels: int,
    source: Path,
    target: Path,
    device: torch.device,
    console: Console | None,
    tile: int = 256,
    overlap: int = 16,
    scale: float | None = None,
) -> UpscaleResult:
    """Super-resolve ``source`` (a file or a folder, recursively) into ``target``, keeping file names."""
    from PIL import Image
    from torchvision.transforms.v2 import functional as TF

    files = image_files(source)
    single = source.is_file()
    if single and target.suffix == "":
        target = target / source.name
    result = UpscaleResult()
    mode = "RGB" if channels == 3 else "L"
    student = student.to(device).eval()
    with ProgressBar(console, "upscale", len(files), log_every=max(1, len(files) // 10)) as bar:
        for i, path in enumerate(files, 1):
            out_path = target if single else target / path.relative_to(source)
            try:
                with Image.open(path) as img:
                    img.load()
                    rgb = img.convert(mode)
            except (OSError, SyntaxError, ValueError) as e:
                result.bad.append((path, str(e).splitlines()[0] if str(e) else type(e).__name__))
                bar.update(i)
                continue
            lr = TF.pil_to_tensor(rgb).unsqueeze(0).to(device).float().div_(255.0)
            sr = upscale_tensor(student, lr, tile, overlap, scale)
            pixels = sr[0].mul(255.0).round_().to(torch.uint8).cpu()
            out_path.parent.mkdir(parents=True, exist_ok=True)
            TF.to_pil_image(pixels).save(
                out_path, **({"quality": 95} if out_path.suffix.lower() in (".jpg", ".jpeg") else {})
            )
            result.written.append(out_path)
            bar.update(i)
    return result


def check_tiling(tile: int, overlap: int, scale: float | None) -> None:
    if tile < 8 or overlap < 0 or overlap >= tile:
        raise UserError(
            f"--tile {tile} --overlap {overlap}: need tile ≥ 8 and 0 ≤ overlap < tile.", "E.g. --tile 256 --overlap 16."
        )
    if scale is not None and not (math.isfinite(scale) and scale > 0):
        raise UserError(f"--scale {scale}: need a positive number.", "E.g. --scale 3.125 (1 / 0.32).")
