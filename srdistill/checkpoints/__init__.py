"""Reading and writing weights safely.

* Writing is atomic: a temporary file in the same folder, fsync, rename. A crash mid-write
  leaves the previous checkpoint intact, never a half-written one.
* Reading never runs code: ``.safetensors`` through safetensors, everything else through
  ``torch.load(weights_only=True)``.
* Loading into a model is strict, and every mismatch (missing keys, unexpected keys, wrong
  shapes) is reported at once.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel
from torch import nn

from srdistill.errors import UserError

# Keys under which common training frameworks nest the weights (basicsr/Real-ESRGAN use
# ``params_ema`` and ``params``; Lightning and many scripts use ``state_dict`` or ``model``).
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model")
METADATA_KEY = "srdistill"


def component_metadata(role: str, config: BaseModel, **extra: Any) -> dict[str, Any]:
    """What a checkpoint records so that its component can be rebuilt without the recipe."""
    return {"role": role, "config": config.model_dump(mode="json"), **extra}


def save_weights(module: nn.Module, path: Path, metadata: Mapping[str, Any] | None = None) -> None:
    """Write ``module``'s state dict to ``path`` as safetensors, atomically.

    ``metadata`` is stored as JSON under the ``srdistill`` key of the safetensors header.
    """
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}
    header = {METADATA_KEY: json.dumps(dict(metadata or {}), default=str)}
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata=header)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; it becomes ``path`` only if the block succeeds.

    The file is fsynced and renamed over ``path`` (``os.replace``), so readers see the old file
    or the new one, never a half-written one; on any error (Ctrl-C included) it is removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private; give it the mode of any new file
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_text(path: Path, text: str) -> None:
    """``text`` at ``path``, written atomically; an unwritable path is a user error."""
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UserError(f"Cannot write {path}: {e.strerror}.", "Choose a writable path.") from None


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """``data`` as indented JSON at ``path``, written atomically."""
    write_text(path, json.dumps(data, indent=2) + "\n")


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (where the platform lets a folder be synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not supported on every platform/file system
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_metadata(path: Path) -> dict[str, Any]:
    """The ``srdistill`` metadata of a safetensors file written by :func:`save_weights`."""
    from safetensors import safe_open

    _require_file(path, "checkpoint")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except Exception as e:
        raise UserError(f"Cannot read {path} as safetensors: {e}", "Point to a .safetensors file.") from None
    text = header.get(METADATA_KEY)
    if text is None:
        return {}
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as e:
        meta = e
    if not isinstance(meta, dict):
        raise UserError(
            f"{path}: its '{METADATA_KEY}' metadata is not a JSON object ({text[:60]!r}).",
            "The file was altered after srdistill wrote it; re-export it from the run's checkpoint, "
            f"or remove the '{METADATA_KEY}' metadata key to load it as plain weights.",
        )
    return meta


def read_state_dict(path: Path, what: str = "weights") -> dict[str, torch.Tensor]:
    """A flat ``name -> tensor`` dict from a weights file, without running any pickled code.

    Accepts ``.safetensors`` and PyTorch pickles (``.pth``, ``.pt``, ``.bin``, ``.ckpt``), the
    latter nested or not under one of :data:`WRAPPER_KEYS`; a ``module.`` prefix left by
    DataParallel/DDP is removed.
    """
    _require_file(path, what)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state: Any = load_file(str(path))
        except Exception as e:
            raise UserError(
                f"{what}: {path} is not a readable safetensors file ({e}).",
                "Re-export or re-download it; a partial download or a renamed .pth file gives this error.",
            ) from None
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(
                f"{what}: {path} holds more than tensors and was not loaded: {first}",
                "Only plain weight files are read (torch.load weights_only=True). Re-save it as "
                "`torch.save(model.state_dict(), path)` or as .safetensors from code you trust.",
            ) from None
        except Exception as e:
            raise UserError(
                f"{what}: {path} is not a readable PyTorch weights file ({type(e).__name__}: {e}).",
                "Re-export or re-download it; it may be truncated or in another format.",
            ) from None
    return _unwrap(state, path, what)


def _unwrap(state: Any, path: Path, what: str) -> dict[str, torch.Tensor]:
    while isinstance(state, Mapping) and not _is_tensor_dict(state):
        key = next((k for k in WRAPPER_KEYS if k in state), None)
        if key is None:
            keys = ", ".join(map(str, list(state)[:8]))
            raise UserError(
                f"{what}: {path} is a dict without weights at its top level (keys: {keys}).",
                f"Save the state dict itself, or nest it under one of: {', '.join(WRAPPER_KEYS)}.",
            )
        state = state[key]
    if not isinstance(state, Mapping):
        raise UserError(
            f"{what}: {path} holds a {type(state).__name__}, not a state dict.",
            "Save `model.state_dict()`, not the model object.",
        )
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if tensors and all(k.startswith("module.") for k in tensors):
        tensors = {k.removeprefix("module."): v for k, v in tensors.items()}
    return tensors


def _is_tensor_dict(state: Mapping[Any, Any]) -> bool:
    return bool(state) and all(isinstance(v, torch.Tensor) for v in state.values())


def load_weights(module: nn.Module, path: Path, what: str = "weights") -> None:
    """Load ``path`` into ``module`` strictly; every mismatch is reported in one error."""
    check_and_load(module, read_state_dict(path, what), f"{what} ({path})")


def check_and_load(module: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """``module.load_state_dict(state, strict=True)`` with one readable error on mismatch."""
    expected = module.state_dict()
    # BatchNorm fills in num_batches_tracked, which checkpoints of older PyTorch (torchvision's
    # original ResNet files among them) do not have
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        lines = [f"{what} does not fit the {type(module).__name__} the recipe describes."]
        for title, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if items:
                more = f" (+{len(items) - 5} more)" if len(items) > 5 else ""
                lines.append(f"  {title} ({len(items)}): {', '.join(items[:5])}{more}")
        raise UserError(
            "\n".join(lines),
            "Make the recipe's architecture (sizes, classes, channels) match the checkpoint, "
            "or point to the checkpoint that was trained with this recipe.",
        )
    module.load_state_dict(dict(state), strict=True)


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        hint = (
            "It is a folder; point to the file inside it."
            if path.is_dir()
            else "Check the path (relative paths start at the current directory). "
            "If it is a run's checkpoint, train that run first."
        )
        raise UserError(f"{what}: file not found: {path}", hint)
