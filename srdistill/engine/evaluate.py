"""Metrics of every method through the teacher: the rows of ``compare`` and of validation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from rich.console import Console
from torch import nn
from torch.utils.data import DataLoader

from srdistill.catalog import catalog
from srdistill.engine.devices import RowTimer
from srdistill.engine.distributed import SINGLE, Cluster, sum_all
from srdistill.engine.sr_pass import Outputs, SRBatch, sr_passes, untimed
from srdistill.methods import ORIGINAL
from srdistill.metrics.base import EvalBatch, Metric
from srdistill.recipe.sections import JUDGE_METRICS, RuntimeConfig
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


@dataclass
class Evaluation:
    """The teacher's rows, and each further classifier's rows (classifier -> row name -> row), from one pass."""

    rows: dict[str, Row]
    classifiers: dict[str, dict[str, Row]] = field(default_factory=dict)


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
    classifiers: Mapping[str, Teacher] | None = None,
    classifier_metrics: Sequence[str] = JUDGE_METRICS,
    timed: bool = True,
    reads: Mapping[str, Sequence[str]] | None = None,
) -> Evaluation:
    """Every metric of the teacher on the originals and on every method's SR images, in one pass.

    Row ``original`` is the teacher on the originals, the reference for ``logit_mse``,
    ``agreement`` and ``ce_gap``. With ``timed``, ``seconds`` counts a row's SR and teacher passes
    only (device time, from CUDA events on a GPU; validation, which never reads it, passes
    ``timed=False``). With several processes each evaluates its shard and the
    metric sums are added over all of them. Without ``labels`` (a teacher whose outputs are not
    class logits, a data set without labels) the metrics that need them are left out. Each of
    ``classifiers`` (judges, ensemble members) sees the same images as the teacher and gets
    ``classifier_metrics`` for every row, or for the original and the rows ``reads`` gives it.
    """
    classifiers, reads = classifiers or {}, reads or {}
    names = [ORIGINAL, *methods]
    kept = list(metrics) if labels else label_free(metrics)
    meters: dict[str, list[Metric]] = {n: [catalog().metrics.get(m).build() for m in kept] for n in names}
    rows = {n: Row(n) for n in names}
    seen_by = {c: [ORIGINAL, *reads[c]] if c in reads else names for c in classifiers}
    judged = {c: {n: Row(n) for n in seen_by[c]} for c in classifiers}
    further_meters = {
        c: {n: [catalog().metrics.get(m).build() for m in classifier_metrics] for n in seen_by[c]} for c in classifiers
    }

    timer = RowTimer(device)
    was_training = teacher.training
    teacher.eval()
    for method in methods.values():
        method.eval()
    try:
        for batch in sr_passes(loader, degradation, teacher, methods, device, runtime=runtime, console=console,
                               description=description, lines=lines, bad_files=bad_files,
                               timer=timer if timed else untimed, classifiers=classifiers, reads=reads):  # fmt: skip
            _update(meters, batch, batch.teacher)
            for name in names:
                rows[name].images += len(batch.hr)
            for classifier, outputs in batch.classifiers.items():
                _update(further_meters[classifier], batch, outputs)
    finally:
        teacher.train(was_training)
    for name in names:
        rows[name].seconds = timer.seconds(name)
        rows[name].metrics = _compute(meters[name], kept, device, cluster)
        for c in classifiers:
            if name in judged[c]:
                judged[c][name].metrics = _compute(further_meters[c][name], classifier_metrics, device, cluster)
                judged[c][name].images = rows[name].images
    return Evaluation(rows, judged)


def _update(meters: dict[str, list[Metric]], batch: SRBatch, outputs: Outputs) -> None:
    """Add one batch of every row, as one classifier (``outputs``) sees it, to that classifier's meters."""
    reference = outputs[ORIGINAL].logits
    scale = batch.hr.shape[-1] / batch.lr.shape[-1]
    for name, row_meters in meters.items():
        image = batch.hr if name == ORIGINAL else batch.sr[name]
        seen = EvalBatch(batch.hr, image, batch.labels, outputs[name].logits, reference, scale)
        for meter in row_meters:
            meter.update(seen)


def _compute(meters: list[Metric], names: Sequence[str], device: torch.device, cluster: Cluster) -> dict[str, float]:
    if cluster.distributed:
        for meter in meters:
            meter.merge(lambda t: sum_all(t.to(device), cluster))
    return dict(zip(names, (meter.compute() for meter in meters), strict=True))
