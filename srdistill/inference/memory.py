"""The automatic ``--tile``: the largest tile whose activations fit in a share of free memory.

Larger tiles waste less work on the overlap each tile recomputes, and run faster per pixel; the
tile is therefore as large as memory allows, up to :data:`MAX_TILE`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from srdistill.students.base import SuperResolver

#: beyond this the overlap is already a small share of the work, and a GPU is busy anyway
MAX_TILE = 1024
MIN_TILE = 32
#: share of free memory a tile may use: a GPU is ours, a CPU's memory is shared with other programs
SHARE = {"cuda": 0.5, "cpu": 0.25}
#: peak memory ÷ the largest layer's input plus output: skip connections, allocator slack and
#: convolution workspace. Measured on CPU for RRDB networks (num_feat 8 to 64, 1 to 23 blocks,
#: tiles 128 to 256): 1.7 to 2.1.
SAFETY = 2.5
PROBE = 32


@dataclass(frozen=True)
class TileChoice:
    tile: int
    free_bytes: int
    bytes_per_pixel: float

    def describe(self, device: torch.device) -> str:
        return (
            f"tile {self.tile} (automatic: {self.free_bytes / 2**30:.1f} GiB free on {device.type}, "
            f"about {self.bytes_per_pixel / 1024:.1f} KiB per input pixel)"
        )


def free_memory(device: torch.device) -> int:
    """Bytes free on ``device``: the GPU's free memory, or the host's available memory."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on every platform
        return 4 * 2**30


@torch.inference_mode()
def bytes_per_pixel(student: SuperResolver, channels: int, device: torch.device) -> float:
    """Peak activation bytes per input pixel, from a probe: the largest layer's input plus output, × SAFETY."""
    largest = 0

    def hook(module: nn.Module, args: tuple[object, ...], output: object) -> None:
        nonlocal largest
        size = sum(t.numel() * t.element_size() for t in (*args, output) if isinstance(t, torch.Tensor))
        largest = max(largest, size)

    leaves = [m for m in student.net.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    dtype = next(student.net.parameters(), torch.empty(0)).dtype
    try:
        student.upscale(torch.zeros(1, channels, PROBE, PROBE, device=device, dtype=dtype))
    finally:
        for h in handles:
            h.remove()
    return SAFETY * largest / PROBE**2


def auto_tile(student: SuperResolver, channels: int, device: torch.device, overlap: int) -> TileChoice:
    """The tile side (input pixels) to use on ``device`` right now."""
    free = free_memory(device)
    per_pixel = max(1.0, bytes_per_pixel(student, channels, device))
    budget = free * SHARE.get(device.type, 0.25)
    side = math.isqrt(int(budget / per_pixel)) - 2 * overlap
    tile = max(MIN_TILE, min(MAX_TILE, side // 32 * 32))
    return TileChoice(tile, free, per_pixel)
