"""Evaluating SR methods through the teacher: the rows of ``compare`` and validation."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from rich.console import Console
from torch import nn
from torch.utils.data import DataLoader

from srdistill.catalog import catalog
from srdistill.engine.distributed import SINGLE, Cluster, sum_all
from srdistill.engine.runtime import autocast, synchronize
from srdistill.imaging import to_unit
from srdistill.metrics.base import EvalBatch, Metric
from srdistill.recipe.schema import RuntimeConfig
from srdistill.students.base import SuperResolver
from srdistill.teachers.base import Teacher
from srdistill.ui.progress import ProgressBar

ORIGINAL = "original"


@dataclass
class Row:
    """One method's results: metric means, and the time its forward passes took."""

    method: str
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    images: int = 0

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("nan")


@torch.inference_mode()
def evaluate(
    loader: DataLoader,
    teacher: Teacher,
    degradation: nn.Module,
    methods: Mapping[str, SuperResolver],
    metric_names: Sequence[str],
    device: torch.device,
    console: Console | None = None,
    description: str = "evaluate",
    lines: bool = True,
    runtime: RuntimeConfig | None = None,
    cluster: Cluster = SINGLE,
    bad_files: set[str] | None = None,
) -> dict[str, Row]:
    """Run the teacher on the originals and on every method's SR images, in one pass over the data.

    Row ``original`` is the teacher on the originals, the reference for ``logit_mse`` and
    ``agreement``. Every method gets the same degraded batch; its SR output is clamped to
    ``[0, 1]`` (as when saved as an image) before the teacher and the image metrics see it.
    ``seconds`` counts the method's SR and teacher passes only (the degradation and the
    metrics are excluded), synchronised with the device. ``runtime`` switches bf16 autocast on.
    With several processes each evaluates its shard and the metrics are summed over all of
    them. Unreadable images are skipped and their paths added to ``bad_files``.
    """
    cat = catalog()
    names = [ORIGINAL, *methods]
    meters: dict[str, list[tuple[str, Metric]]] = {
        n: [(m, cat.metrics.get(m).build()) for m in metric_names] for n in names
    }
    if teacher.kind != "classifier":  # no labels to compare a dense teacher's maps with
        meters = {n: [(m, meter) for m, meter in ms if not meter.needs_labels] for n, ms in meters.items()}
    rows = {n: Row(n) for n in names}
    was_training = teacher.training
    teacher.eval()
    for student in methods.values():
        student.eval()

    total = len(loader)
    try:
        with ProgressBar(console, description, total, max(1, total // 10), lines) as bar:
            for step, (images, labels, bad) in enumerate(loader, 1):
                bar.update(step)
                if bad_files is not None:
                    bad_files.update(bad)
                if len(images) == 0:
                    continue
                hr = to_unit(images.to(device, non_blocking=True))
                labels = labels.to(device, non_blocking=True)
                size = (hr.shape[-2], hr.shape[-1])
                with _timed(rows[ORIGINAL], device), autocast(runtime, device):
                    ref = teacher(hr)
                _update(meters[ORIGINAL], EvalBatch(hr, hr, labels, ref, ref))
                rows[ORIGINAL].images += len(hr)
                lr = degradation(hr)
                for name, student in methods.items():
                    with _timed(rows[name], device), autocast(runtime, device):
                        sr = student(lr, size).clamp_(0.0, 1.0)
                        logits = teacher(sr)
                    _update(meters[name], EvalBatch(hr, sr, labels, logits, ref))
                    rows[name].images += len(hr)
    finally:
        teacher.train(was_training)
    for name in names:
        if cluster.distributed:
            for _, meter in meters[name]:
                meter.merge(lambda t: sum_all(t.to(device), cluster))
        computed = {m: meter.compute() for m, meter in meters[name]}
        rows[name].metrics = {m: computed.get(m, float("nan")) for m in metric_names}
    return rows


@contextmanager
def _timed(row: Row, device: torch.device) -> Iterator[None]:
    """Add the wall time of the block, with the device's queued work finished, to ``row.seconds``."""
    synchronize(device)
    start = time.perf_counter()
    yield
    synchronize(device)
    row.seconds += time.perf_counter() - start


def _update(meters: list[tuple[str, Metric]], batch: EvalBatch) -> None:
    for _, meter in meters:
        meter.update(batch)
