"""The one degrade → SR → teacher pass: what the teacher sees in the original and in each SR image.

Training (the student's loss), validation, ``compare``, ``report`` and the plan's FLOP count all
go through :func:`look`; :func:`passes` runs it over a data loader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import torch
from rich.console import Console
from torch import nn
from torch.utils.data import DataLoader

from srdistill.engine.devices import autocast
from srdistill.imaging import to_unit
from srdistill.losses.features import capture
from srdistill.methods import ORIGINAL
from srdistill.recipe.schema import RuntimeConfig
from srdistill.teachers.base import Teacher
from srdistill.ui.progress import ProgressBar

#: ``timer(row name)``: a context manager around one row's SR and teacher passes (for timing)
Timer = Callable[[str], AbstractContextManager[object]]


@dataclass
class View:
    """The teacher's outputs on a batch, and the outputs of the layers some loss reads."""

    logits: torch.Tensor
    features: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class Looked:
    """One batch: the originals, their degraded inputs, each method's SR image and the teacher's views."""

    hr: torch.Tensor
    lr: torch.Tensor
    labels: torch.Tensor
    sr: dict[str, torch.Tensor]
    #: ``ORIGINAL`` and every method's name -> the teacher's view (empty without a teacher)
    views: dict[str, View]
    #: each further classifier's name -> its views, keyed as ``views``
    others: dict[str, dict[str, View]] = field(default_factory=dict)


def see(teacher: Teacher, images: torch.Tensor, layers: Sequence[str] = ()) -> View:
    with capture(teacher.model, tuple(layers)) as features:
        logits = teacher(images)
    return View(logits, features)


def untimed(name: str) -> AbstractContextManager[object]:
    return nullcontext()


def look(
    hr: torch.Tensor,
    labels: torch.Tensor,
    degradation: nn.Module,
    teacher: Teacher | None,
    methods: Mapping[str, nn.Module],
    *,
    clamp: bool = True,
    layers: Sequence[str] = (),
    original: View | None = None,
    timer: Timer = untimed,
    others: Mapping[str, Teacher] = {},
) -> Looked:
    """Degrade ``hr`` once, super-resolve it with every method, and show the teacher each result.

    ``others`` (compare's judges) see the same originals and SR images as the teacher, after the
    timed part, so a row's time stays that of its SR and the teacher's pass.

    The teacher's pass on the originals never keeps a graph (``original`` may bring it from a
    cache); its passes on SR images do when gradients are on, so a loss on them trains the
    student through the frozen teacher. ``clamp`` limits SR to ``[0, 1]``, as an image saved
    to disk would be (evaluation); training leaves it unclamped so that no gradient is cut.
    """
    views: dict[str, View] = {}
    if teacher is not None:
        if original is None:
            with torch.no_grad(), timer(ORIGINAL):
                original = see(teacher, hr, layers)
        views[ORIGINAL] = original
    with torch.no_grad():
        lr = degradation(hr)
    size = (hr.shape[-2], hr.shape[-1])
    images: dict[str, torch.Tensor] = {}
    for name, method in methods.items():
        with timer(name):
            sr = method(lr, size)
            images[name] = sr.clamp(0.0, 1.0) if clamp else sr
            if teacher is not None:
                views[name] = see(teacher, images[name], layers)
    seen: dict[str, dict[str, View]] = {}
    for key, other in others.items():
        with torch.no_grad():
            seen[key] = {ORIGINAL: see(other, hr, layers)}
        seen[key] |= {name: see(other, image, layers) for name, image in images.items()}
    return Looked(hr, lr, labels, images, views, seen)


def passes(
    loader: DataLoader,
    degradation: nn.Module,
    teacher: Teacher,
    methods: Mapping[str, nn.Module],
    device: torch.device,
    *,
    runtime: RuntimeConfig | None = None,
    console: Console | None = None,
    description: str = "evaluate",
    lines: bool = True,
    bad_files: set[str] | None = None,
    timer: Timer = untimed,
    others: Mapping[str, Teacher] = {},
) -> Iterator[Looked]:
    """:func:`look` at every batch of ``loader`` (no gradients), with a progress bar.

    Unreadable images are skipped and their paths added to ``bad_files``.
    """
    total = len(loader)
    with ProgressBar(console, description, total, max(1, total // 10), lines) as bar:
        for step, (images, labels, bad) in enumerate(loader, 1):
            bar.update(step)
            if bad_files is not None:
                bad_files.update(bad)
            if len(images) == 0:
                continue
            hr = to_unit(images.to(device, non_blocking=True))
            labels = labels.to(device, non_blocking=True)
            with torch.inference_mode(), autocast(runtime, device):
                looked = look(hr, labels, degradation, teacher, methods, timer=timer, others=others)
            yield looked
