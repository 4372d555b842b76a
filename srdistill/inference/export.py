"""``srdistill export``: a trained student as safetensors (with its config) and ONNX, checked for parity.

The ONNX file is self-contained (weights inside) so it can be copied alone; only a model over
protobuf's 2 GB limit gets its weights in ``OUT.onnx.data`` beside it, and the result says so.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from srdistill.checkpoints import atomic_path, read_metadata, save_weights
from srdistill.errors import UserError
from srdistill.students.base import SuperResolver


@dataclass
class Exported:
    weights: Path
    onnx: Path | None
    max_abs_diff: float | None
    input_shape: tuple[int, ...]
    #: the weights file beside the .onnx, for models over the 2 GB a single ONNX file can hold
    external_data: Path | None = None
    #: what other tools make of the safetensors file (spandrel: chaiNNer, ComfyUI), where it is not right
    warnings: tuple[str, ...] = ()


class Upscaler(nn.Module):
    """A student's own upscale (its network, plus the bicubic base of a residual student), as one module."""

    def __init__(self, student: SuperResolver) -> None:
        super().__init__()
        self.student = student

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.student.upscale(lr)


def spandrel_reading(student: SuperResolver, weights: Path, channels: int) -> tuple[str, ...]:
    """How spandrel (which chaiNNer and ComfyUI load models with) reads the exported file: a warning where it
    cannot, or where it computes another image than the student does."""
    import spandrel

    try:
        found = spandrel.ModelLoader().load_from_file(str(weights))
    except Exception as e:  # any reason spandrel gives
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        grow = getattr(student.config, "num_grow_ch", None)
        why = f" (its RRDB dense blocks grow by 32 only; this one grows by {grow})" if grow not in (None, 32) else ""
        return (f"spandrel (chaiNNer, ComfyUI) cannot load {weights.name}{why}: {first}",)
    probe = torch.rand(1, channels, 12, 12, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        theirs, ours = found.model.eval().float()(probe), student.upscale(probe)
    diff = float((theirs - ours).abs().max()) if theirs.shape == ours.shape else float("inf")
    if diff > 1e-4:
        why = (
            " (a residual student adds a bicubic upscale of its input, which spandrel does not)"
            if student.residual
            else ""
        )
        return (
            f"spandrel (chaiNNer, ComfyUI) loads {weights.name} but computes another image, max |Δ| {diff:.3g}{why}; "
            "srdistill upscale and the ONNX file compute the student's own.",
        )
    return ()


#: protobuf refuses messages over 2 GiB; leave room for the graph itself
ONNX_INLINE_LIMIT = 2 * 2**30 - 64 * 2**20


def parameter_bytes(net: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in (*net.parameters(), *net.buffers()))


def check_outputs(checkpoint: Path, out: Path, onnx: bool, overwrite: bool) -> None:
    """Refuse to overwrite the checkpoint itself, or earlier exports without ``overwrite``."""
    targets = [out.with_suffix(".safetensors")] + ([out.with_suffix(".onnx")] if onnx else [])
    if checkpoint.resolve() in {t.resolve() for t in targets}:
        raise UserError(f"Exporting to {out} would overwrite the checkpoint {checkpoint}.", "Choose another OUT.")
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise UserError(f"{', '.join(existing)} exists already.", "Pass --overwrite to replace it, or another OUT.")


def export(
    student: SuperResolver,
    channels: int,
    checkpoint: Path,
    out: Path,
    onnx: bool = True,
    size: int = 32,
    overwrite: bool = False,
) -> Exported:
    """Write ``out.safetensors`` and ``out.onnx``; compare ONNX Runtime with PyTorch on a random image.

    The exported network is the student's own upscaler (LR → ×s), with dynamic batch, height
    and width; resizing to a target size is left to the caller, as sizes differ per use.
    """
    check_outputs(checkpoint, out, onnx, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = read_metadata(checkpoint) if checkpoint.suffix == ".safetensors" else {}
    config = student.config.model_dump(mode="json") if student.config is not None else meta.get("config")
    weights = out.with_suffix(".safetensors")
    save_weights(
        student.net, weights, {**meta, "config": config, "channels": channels, "exported_from": str(checkpoint)}
    )
    warnings = spandrel_reading(student.eval().float().cpu(), weights, channels)
    if not onnx:
        return Exported(weights, None, None, (), warnings=warnings)
    try:
        import onnxruntime as ort
    except ImportError:
        raise UserError(
            "ONNX export needs onnx, onnxscript and onnxruntime, which are not installed.",
            "pip install 'srdistill[export]', or pass --no-onnx.",
        ) from None
    net = Upscaler(student).eval() if student.residual else student.net.eval().float().cpu()  # with a residual base
    example = torch.rand(1, channels, size, size, generator=torch.Generator().manual_seed(0))
    path = out.with_suffix(".onnx")
    dims = {0: torch.export.Dim("batch", max=1024), 2: torch.export.Dim("height", min=8, max=8192),
            3: torch.export.Dim("width", min=8, max=8192)}  # fmt: skip

    def write(f: Path, external: bool) -> None:
        torch.onnx.export(
            net, (example,), str(f), dynamo=True, input_names=["lr"], output_names=["sr"],
            dynamic_shapes=(dims,), external_data=external, verbose=False,
        )  # fmt: skip

    external = parameter_bytes(net) > ONNX_INLINE_LIMIT
    data = path.with_name(path.name + ".data")
    if external:
        _write_pair(path, data, lambda f: write(f, True))
    else:
        with atomic_path(path) as tmp:
            write(tmp, False)
        data.unlink(missing_ok=True)  # an earlier export's weights file would be taken for this one's
    probe = torch.rand(2, channels, size + 8, size + 16, generator=torch.Generator().manual_seed(1))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(None, {"lr": probe.numpy()})[0])
    with torch.no_grad():
        want = net(probe)
    diff = float((got - want).abs().max())
    return Exported(weights, path, diff, tuple(probe.shape), data if external else None, warnings)


def _write_pair(path: Path, data: Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` and its external ``data`` in a temporary folder, then move both in (data first)."""
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        write(folder / path.name)
        os.replace(folder / data.name, data)
        os.replace(folder / path.name, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
