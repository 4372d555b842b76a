"""Matching an image's colour to the student's channels, and back.

* a 3-channel student on a colour image: RGB in, RGB out.
* a 1-channel student on a greyscale image: grey in, grey out.
* a 1-channel student on a colour image: the student super-resolves the luma (Y of YCbCr) and the
  chroma (Cb, Cr) is upscaled bicubic, the usual practice for greyscale SR models: the eye
  sees detail mostly in luma.
* a 3-channel student on a greyscale image: the grey is copied to R, G and B, and the result
  saved greyscale again (its luma), so the file keeps the input's mode.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

import torch
from PIL import Image

#: PIL modes without colour
GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})


class ColourPath(Enum):
    SAME = "same"
    LUMA = "luma"  # 1-channel student, colour image
    GREY_AS_RGB = "grey_as_rgb"  # 3-channel student, greyscale image


def colour_path(image: Image.Image, channels: int) -> ColourPath:
    grey = image.mode in GREY_MODES or (image.mode == "P" and _grey_palette(image))
    if channels == 1 and not grey:
        return ColourPath.LUMA
    if channels == 3 and grey:
        return ColourPath.GREY_AS_RGB
    return ColourPath.SAME


def _grey_palette(image: Image.Image) -> bool:
    palette = image.getpalette() or []
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette) - 2, 3))


def super_resolve_image(
    image: Image.Image, channels: int, run: Callable[[torch.Tensor], torch.Tensor]
) -> tuple[Image.Image, ColourPath]:
    """``image`` super-resolved by ``run`` (``(1, channels, h, w)`` in [0, 1] → ``(1, channels, H, W)``)."""
    from torchvision.transforms.v2 import functional as TF

    path = colour_path(image, channels)

    def sr(planes: Image.Image) -> Image.Image:
        lr = TF.pil_to_tensor(planes).unsqueeze(0).float().div_(255.0)
        return TF.to_pil_image(run(lr)[0].mul(255.0).round_().to(torch.uint8).cpu())

    if path is ColourPath.LUMA:
        y, cb, cr = image.convert("YCbCr").split()
        y_sr = sr(y)
        chroma = [c.resize(y_sr.size, Image.Resampling.BICUBIC) for c in (cb, cr)]
        return Image.merge("YCbCr", (y_sr, *chroma)).convert("RGB"), path
    if path is ColourPath.GREY_AS_RGB:
        return sr(image.convert("L").convert("RGB")).convert("L"), path
    return sr(image.convert("RGB" if channels == 3 else "L")), path
