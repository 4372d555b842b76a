"""The one degrade → SR → classify pass: what each classifier outputs on the originals and on each SR image.

Training (the student's loss), validation, ``compare``, ``report`` and the plan's FLOP count all
go through :func:`sr_pass`; :func:`sr_passes` runs it over a data loader.

Names used throughout: a *row* is the original or one SR method's output; a *classifier* is any
recognition model shown the rows (the teacher, an ensemble's further members, compare's judges).
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
from srdistill.recipe.sections import RuntimeConfig
from srdistill.teachers.base import Teacher
from srdistill.ui.progress import ProgressBar

#: ``timer(row name)``: a context manager around one row's SR and teacher passes (for timing)
Timer = Callable[[str], AbstractContextManager[object]]


@dataclass
class ClassifierOutput:
    """A classifier's outputs on one batch, and those of the layers some loss reads."""

    logits: torch.Tensor
    features: dict[str, torch.Tensor] = field(default_factory=dict)


#: row name (``ORIGINAL`` or a method) -> the classifier's output on that row
Outputs = dict[str, ClassifierOutput]


@dataclass
class SRBatch:
    """One batch through the pass: originals, their degraded inputs, each method's SR image, and
    what the teacher and every further classifier output on each of them."""

    hr: torch.Tensor
    lr: torch.Tensor
    labels: torch.Tensor
    sr: dict[str, torch.Tensor]
    #: the teacher's outputs by row (empty without a teacher)
    teacher: Outputs
    #: each further classifier's outputs by row, keyed by the classifier's name
    classifiers: dict[str, Outputs] = field(default_factory=dict)


def classify(classifier: Teacher, images: torch.Tensor, layers: Sequence[str] = ()) -> ClassifierOutput:
    """``classifier`` on ``images``, recording the outputs of its ``layers``."""
    with capture(classifier.model, tuple(layers)) as features:
        logits = classifier(images)
    return ClassifierOutput(logits, features)


def untimed(name: str) -> AbstractContextManager[object]:
    return nullcontext()


def sr_pass(
    hr: torch.Tensor,
    labels: torch.Tensor,
    degradation: nn.Module,
    teacher: Teacher | None,
    methods: Mapping[str, nn.Module],
    *,
    clamp: bool = True,
    layers: Sequence[str] = (),
    original: ClassifierOutput | None = None,
    timer: Timer = untimed,
    classifiers: Mapping[str, Teacher] = {},
    reads: Mapping[str, Sequence[str]] = {},
) -> SRBatch:
    """Degrade ``hr`` once, super-resolve it with every method, and show the teacher each result.

    ``classifiers`` (an ensemble's further members, compare's judges) see the same originals and SR
    images as the teacher, after the timed part, so a row's time stays that of its SR and the
    teacher's pass. ``reads`` limits a classifier to some methods' rows (a route reads one; the
    original is always read).

    No classifier's pass on the originals keeps a graph (``original`` may bring the teacher's from
    a cache); the passes on SR images do when gradients are on, so a loss on them trains the
    student through the frozen classifiers. ``clamp`` limits SR to ``[0, 1]``, as an image saved
    to disk would be (evaluation); training leaves it unclamped so that no gradient is cut.
    """
    outputs: Outputs = {}
    if teacher is not None:
        if original is None:
            with torch.no_grad(), timer(ORIGINAL):
                original = classify(teacher, hr, layers)
        outputs[ORIGINAL] = original
    with torch.no_grad():
        lr = degradation(hr)
    size = (hr.shape[-2], hr.shape[-1])
    images: dict[str, torch.Tensor] = {}
    for name, method in methods.items():
        with timer(name):
            sr = method(lr, size)
            images[name] = sr.clamp(0.0, 1.0) if clamp else sr
            if teacher is not None:
                outputs[name] = classify(teacher, images[name], layers)
    further: dict[str, Outputs] = {}
    for key, classifier in classifiers.items():
        with torch.no_grad():
            further[key] = {ORIGINAL: classify(classifier, hr, layers)}
        rows = reads.get(key, images.keys())
        further[key] |= {name: classify(classifier, image, layers) for name, image in images.items() if name in rows}
    return SRBatch(hr, lr, labels, images, outputs, further)


def sr_passes(
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
    classifiers: Mapping[str, Teacher] = {},
    reads: Mapping[str, Sequence[str]] = {},
) -> Iterator[SRBatch]:
    """:func:`sr_pass` over every batch of ``loader`` (no gradients), with a progress bar.

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
                batch = sr_pass(hr, labels, degradation, teacher, methods, timer=timer, classifiers=classifiers,
                                reads=reads)  # fmt: skip
            yield batch
