"""Metrics of every method through the teacher: the rows of ``compare`` and of validation."""

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
from srdistill.engine.devices import synchronize
from srdistill.engine.distributed import SINGLE, Cluster, sum_all
from srdistill.engine.views import passes
from srdistill.methods import ORIGINAL
from srdistill.metrics.base import EvalBatch, Metric
from srdistill.recipe.schema import RuntimeConfig
from srdistill.teachers.base import Teacher


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


def label_free(names: Sequence[str]) -> list[str]:
    """``names`` without the metrics that compare a prediction with labels."""
    metrics = catalog().metrics
    return [n for n in names if not metrics.get(n).build().needs_labels]


def evaluate(
    loader: DataLoader,
    teacher: Teacher,
    degradation: nn.Module,
    methods: Mapping[str, nn.Module],
    metrics: Sequence[str],
    device: torch.device,
    console: Console | None = None,
    description: str = "evaluate",
    lines: bool = True,
    runtime: RuntimeConfig | None = None,
    cluster: Cluster = SINGLE,
    bad_files: set[str] | None = None,
    labels: bool = True,
) -> dict[str, Row]:
    """Every metric of the teacher on the originals and on every method's SR images, in one pass.

    Row ``original`` is the teacher on the originals, the reference for ``logit_mse``,
    ``agreement`` and ``ce_gap``. ``seconds`` counts a row's SR and teacher passes only,
    synchronised with the device. With several processes each evaluates its shard and the
    metric sums are added over all of them. Without ``labels`` (a teacher whose outputs are not
    class logits, a data set without labels) the metrics that need them are left out (NaN).
    """
    names = [ORIGINAL, *methods]
    kept = list(metrics) if labels else label_free(metrics)
    meters: dict[str, list[Metric]] = {n: [catalog().metrics.get(m).build() for m in kept] for n in names}
    rows = {n: Row(n) for n in names}

    @contextmanager
    def timer(name: str) -> Iterator[None]:
        synchronize(device)
        start = time.perf_counter()
        yield
        synchronize(device)
        rows[name].seconds += time.perf_counter() - start

    was_training = teacher.training
    teacher.eval()
    for method in methods.values():
        method.eval()
    try:
        for looked in passes(loader, degradation, teacher, methods, device, runtime=runtime, console=console,
                             description=description, lines=lines, bad_files=bad_files, timer=timer):  # fmt: skip
            reference = looked.views[ORIGINAL].logits
            for name in names:
                image = looked.hr if name == ORIGINAL else looked.sr[name]
                batch = EvalBatch(looked.hr, image, looked.labels, looked.views[name].logits, reference)
                for meter in meters[name]:
                    meter.update(batch)
                rows[name].images += len(looked.hr)
    finally:
        teacher.train(was_training)
    for name in names:
        if cluster.distributed:
            for meter in meters[name]:
                meter.merge(lambda t: sum_all(t.to(device), cluster))
        computed = dict(zip(kept, (meter.compute() for meter in meters[name]), strict=True))
        rows[name].metrics = {m: computed.get(m, float("nan")) for m in metrics}
    return rows
