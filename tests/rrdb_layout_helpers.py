"""RRDB state dicts renamed into the ESRGAN layouts, for the loading tests (tests/ is on sys.path)."""

from __future__ import annotations

import re

import torch


def renamed(state: dict[str, torch.Tensor], renames: list[tuple[str, str]]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        for pattern, repl in renames:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def as_esrgan(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """basicsr keys -> the ESRGAN repository's RRDBNet_arch.py keys."""
    return renamed(state, [
        (r"^body\.(\d+)\.rdb(\d)\.conv(\d)\.", r"RRDB_trunk.\1.RDB\2.conv\3."),
        (r"^conv_body\.", "trunk_conv."),
        (r"^conv_up1\.", "upconv1."),
        (r"^conv_up2\.", "upconv2."),
        (r"^conv_hr\.", "HRconv."),
    ])  # fmt: skip


def as_esrgan_old(state: dict[str, torch.Tensor], num_block: int) -> dict[str, torch.Tensor]:
    """basicsr keys -> the original ESRGAN release's Sequential keys."""
    return renamed(state, [
        (r"^conv_first\.", "model.0."),
        (r"^body\.(\d+)\.rdb(\d)\.conv(\d)\.(weight|bias)$", r"model.1.sub.\1.RDB\2.conv\3.0.\4"),
        (r"^conv_body\.", f"model.1.sub.{num_block}."),
        (r"^conv_up1\.", "model.3."),
        (r"^conv_up2\.", "model.6."),
        (r"^conv_hr\.", "model.8."),
        (r"^conv_last\.", "model.10."),
    ])  # fmt: skip
