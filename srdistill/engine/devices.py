"""The device: which one, its process-wide switches, autocast and waiting for queued work."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from srdistill.errors import UserError
from srdistill.recipe.sections import RuntimeConfig


def select_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU; an explicit device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device '{name}' was asked for but CUDA is not available here.", "Use --set device=auto.")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserError(f"device '{name}' does not exist ({torch.cuda.device_count()} GPUs).", "Use cuda:0.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError("device 'mps' was asked for but is not available here.", "Use --set device=auto.")
    return device


def configure(runtime: RuntimeConfig, device: torch.device) -> None:
    """Process-wide switches for the device: TF32 and cuDNN autotuning on CUDA."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = runtime.tf32
        torch.backends.cudnn.allow_tf32 = runtime.tf32
        torch.backends.cudnn.benchmark = True  # input sizes are fixed within a run


def autocast(runtime: RuntimeConfig | None, device: torch.device) -> AbstractContextManager[object]:
    """bf16 autocast when the recipe asks for it, otherwise nothing."""
    if runtime is not None and runtime.amp == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def synchronize(device: torch.device) -> None:
    """Wait for queued work on ``device`` (for timing)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
