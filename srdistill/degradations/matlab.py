"""MATLAB's ``imresize`` (bicubic, antialiased when shrinking), as the SR literature makes its LR images.

The kernel weights are basicsr's own (``calculate_weights_indices``, the port of MATLAB's code that
BasicSR's ``imresize`` uses), so sizes and values are MATLAB's: the output side is ``ceil(side·scale)``
and the kernel is stretched by exactly ``1/scale``, not by the ratio of the rounded sizes. basicsr
applies them one image and one row at a time on the CPU; here each axis's weights (the symmetric
border folded in) become one matrix, applied to a whole batch on its device.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch


def output_side(side: int, scale: float) -> int:
    """MATLAB's (and basicsr's) output side: ``ceil(side · scale)``."""
    return math.ceil(side * scale)


@lru_cache(maxsize=32)
def resize_matrix(in_side: int, scale: float, antialias: bool) -> torch.Tensor:
    """The ``(out, in)`` matrix of one axis: row ``i`` holds the weights of output pixel ``i``, MATLAB's
    symmetric padding mapped back onto the input pixels (float64, on the CPU)."""
    from srdistill.compat.basicsr import matlab_functions

    out_side = output_side(in_side, scale)
    weights, indices, sym_start, _ = matlab_functions().calculate_weights_indices(
        in_side, out_side, scale, "cubic", 4, antialias
    )
    matrix = torch.zeros(out_side, in_side, dtype=torch.float64)
    width = weights.shape[1]
    for i in range(out_side):
        first = int(indices[i][0])  # basicsr reads the window padded[first : first + width]
        for k in range(width):
            q = first + k - sym_start  # position in the image, before the symmetric border is folded in
            q = -q - 1 if q < 0 else (2 * in_side - 1 - q if q >= in_side else q)
            matrix[i, q] += float(weights[i][k])
    return matrix


def imresize(images: torch.Tensor, scale: float, antialias: bool = True) -> torch.Tensor:
    """``(B, C, H, W)`` images resized as MATLAB's ``imresize(images, scale, 'bicubic')`` resizes each."""
    h, w = images.shape[-2:]
    rows = resize_matrix(h, scale, antialias).to(images.device, images.dtype)
    cols = resize_matrix(w, scale, antialias).to(images.device, images.dtype)
    return torch.einsum("oh,bchw,pw->bcop", rows, images, cols)
