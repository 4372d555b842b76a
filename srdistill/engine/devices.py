"""The device: which one, its process-wide switches, autocast, compilation, and timing work on it."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch
from torch import nn

from srdistill.errors import UserError
from srdistill.recipe.sections import RuntimeConfig


def select_device(name: str, option: str = "--set device") -> torch.device:
    """``auto`` is CUDA when available, else CPU; an explicit device must exist. ``option`` is how the user
    chose it (a recipe's ``--set device``, upscale's ``--device``), for the fix."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device '{name}' was asked for but CUDA is not available here.", f"Use {option}=auto.")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserError(f"device '{name}' does not exist ({torch.cuda.device_count()} GPUs).", f"Use {option}=cuda:0.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError("device 'mps' was asked for but is not available here.", f"Use {option}=auto.")
    return device


def configure(runtime: RuntimeConfig, device: torch.device) -> None:
    """Process-wide switches for the device: TF32, and cuDNN autotuning or determinism, on CUDA."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = runtime.tf32
        torch.backends.cudnn.allow_tf32 = runtime.tf32
        # input sizes are fixed within a run, so autotuning pays once; but the kernel it picks can
        # differ from run to run, and so can the last bits of the results
        torch.backends.cudnn.benchmark = not runtime.deterministic
        torch.backends.cudnn.deterministic = runtime.deterministic


def autocast(runtime: RuntimeConfig | None, device: torch.device) -> AbstractContextManager[object]:
    """bf16 autocast when the recipe asks for it, otherwise nothing."""
    if runtime is not None and runtime.amp == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def synchronize(device: torch.device) -> None:
    """Wait for queued work on ``device`` (for timing)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def repeated_blocks(module: nn.Module) -> list[nn.Module]:
    """The blocks ``module`` repeats: members of a Sequential or ModuleList whose class (with weights)
    occurs there at least twice, such as RRDBNet's 23 RRDBs and each ResNet stage's bottlenecks."""
    found: list[nn.Module] = []
    for child in module.children():
        if isinstance(child, nn.Sequential | nn.ModuleList):
            kinds = Counter(type(m) for m in child if any(True for _ in m.parameters()))
            for member in child:
                if kinds[type(member)] >= 2:
                    found.append(member)
                else:
                    found += repeated_blocks(member)
        else:
            found += repeated_blocks(child)
    return found


def compile_module(module: nn.Module, mode: str) -> None:
    """``torch.compile`` ``module`` in place (``state_dict`` keys stay as they are) as ``runtime.compile`` says.

    ``regional`` is PyTorch's regional compilation: each repeated block is compiled, and since all
    instances of a block class share its code, Dynamo traces the first and reuses the result for the
    rest, so RRDB's 23 blocks compile about as fast as one.
    """
    if mode == "none":
        return
    if mode == "regional":
        for block in repeated_blocks(module):
            block.compile()
        return
    module.compile(mode=None if mode == "default" else mode)


class RowTimer:
    """Seconds of device work per named row, without making the host wait for the device.

    On CUDA each timed span records an event pair on the current stream, and the elapsed times are
    read once, by :meth:`seconds`; the GPU keeps its queue full in between. Elsewhere the host runs
    the work itself, so the wall clock is the time.
    """

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self._events: dict[str, list[tuple[torch.cuda.Event, torch.cuda.Event]]] = defaultdict(list)
        self._wall: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            yield
            end.record()
            self._events[name].append((start, end))
        else:
            began = time.perf_counter()
            yield
            self._wall[name] += time.perf_counter() - began

    def seconds(self, name: str) -> float:
        """The time spent in ``name``'s spans so far (on CUDA this waits for them to finish)."""
        if self._events[name]:
            self._events[name][-1][1].synchronize()
        return self._wall[name] + sum(s.elapsed_time(e) for s, e in self._events[name]) / 1000
