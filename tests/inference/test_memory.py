"""The automatic tile: sized from free memory and the network's own activations, bounded."""

from __future__ import annotations

import pytest
import torch

import srdistill.inference.memory as memory
from srdistill.compat.basicsr import rrdbnet_class
from srdistill.inference.memory import MAX_TILE, MIN_TILE, auto_tile, bytes_per_pixel, free_memory
from srdistill.students.base import SuperResolver

CPU = torch.device("cpu")


def student(num_feat: int, channels: int = 3) -> SuperResolver:
    return SuperResolver(rrdbnet_class()(channels, channels, scale=4, num_feat=num_feat, num_block=1, num_grow_ch=4))


def test_free_memory_is_positive() -> None:
    assert free_memory(CPU) > 0


def test_cost_per_pixel_grows_with_the_network_width() -> None:
    narrow, wide = bytes_per_pixel(student(8), 3, CPU), bytes_per_pixel(student(32), 3, CPU)
    # the largest layer runs at ×4 resolution: num_feat channels in and out, 16 output pixels per input pixel
    assert narrow == pytest.approx(memory.SAFETY * 2 * 8 * 16 * 4)
    assert wide == pytest.approx(4 * narrow)


@pytest.mark.parametrize(("free_gib", "expected"), [(0.01, MIN_TILE), (1000.0, MAX_TILE)])
def test_tile_is_bounded(monkeypatch: pytest.MonkeyPatch, free_gib: float, expected: int) -> None:
    monkeypatch.setattr(memory, "free_memory", lambda device: int(free_gib * 2**30))
    assert auto_tile(student(8), 3, CPU, overlap=16).tile == expected


def test_tile_fits_its_share_of_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "free_memory", lambda device: 2**30)
    choice = auto_tile(student(32), 3, CPU, overlap=16)
    assert choice.tile % 32 == 0 and MIN_TILE < choice.tile < MAX_TILE
    used = (choice.tile + 32) ** 2 * choice.bytes_per_pixel
    assert used <= memory.SHARE["cpu"] * 2**30 < (choice.tile + 64) ** 2 * choice.bytes_per_pixel
    assert "automatic" in choice.describe(CPU)
