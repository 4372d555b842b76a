"""``srdistill export``: a trained student as safetensors (with its config) and ONNX, checked for parity."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from srdistill.checkpoints import read_metadata, save_weights
from srdistill.errors import UserError
from srdistill.students.base import SuperResolver


@dataclass
class Exported:
    weights: Path
    onnx: Path | None
    max_abs_diff: float | None
    input_shape: tuple[int, ...]


def export(
    student: SuperResolver, channels: int, checkpoint: Path, out: Path, onnx: bool = True, size: int = 32
) -> Exported:
    """Write ``out.safetensors`` and ``out.onnx``; compare ONNX Runtime with PyTorch on a random image.

    The exported network is the student's own upscaler (LR → ×s), with dynamic batch, height
    and width; resizing to a target size is left to the caller, as sizes differ per use.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = read_metadata(checkpoint) if checkpoint.suffix == ".safetensors" else {}
    config = student.config.model_dump(mode="json") if student.config is not None else meta.get("config")
    weights = out.with_suffix(".safetensors")
    save_weights(
        student.net, weights, {**meta, "config": config, "channels": channels, "exported_from": str(checkpoint)}
    )
    if not onnx:
        return Exported(weights, None, None, ())
    try:
        import onnxruntime as ort
    except ImportError:
        raise UserError(
            "ONNX export needs onnx, onnxscript and onnxruntime, which are not installed.",
            "pip install 'srdistill[export]', or pass --no-onnx.",
        ) from None
    net = student.net.eval().float().cpu()
    example = torch.rand(1, channels, size, size, generator=torch.Generator().manual_seed(0))
    path = out.with_suffix(".onnx")
    dims = {0: torch.export.Dim("batch", max=1024), 2: torch.export.Dim("height", min=8, max=8192),
            3: torch.export.Dim("width", min=8, max=8192)}  # fmt: skip
    torch.onnx.export(
        net, (example,), str(path), dynamo=True, input_names=["lr"], output_names=["sr"],
        dynamic_shapes=(dims,), verbose=False,
    )  # fmt: skip
    probe = torch.rand(2, channels, size + 8, size + 16, generator=torch.Generator().manual_seed(1))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(None, {"lr": probe.numpy()})[0])
    with torch.no_grad():
        want = net(probe)
    return Exported(weights, path, float((got - want).abs().max()), tuple(probe.shape))
