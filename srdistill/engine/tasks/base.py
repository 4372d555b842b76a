"""What every task shares: the batch a step sees, validation through the one evaluation pass, the monitor.

A task is what a fit computes. It owns the networks it trains (wrapped for several processes
where there are several), and gives the trainer, for each of them in turn, the losses of one
update: ``forward(batch, network)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from rich.console import Console
from torch import nn
from torch.utils.data import DataLoader

from srdistill.catalog import catalog
from srdistill.engine.build import Parts
from srdistill.engine.distributed import SINGLE, Cluster
from srdistill.engine.evaluate import evaluate
from srdistill.engine.sr_pass import sr_pass
from srdistill.methods import ORIGINAL
from srdistill.recipe.schema import MAIN_TEACHER, Recipe
from srdistill.registry import ComponentConfig
from srdistill.students.base import SuperResolver
from srdistill.teachers.base import Teacher


@dataclass
class TrainBatch:
    """One training batch: originals in ``[0, 1]``, labels, and their indices in the data set."""

    hr: torch.Tensor
    labels: torch.Tensor
    index: torch.Tensor
    epoch: int = 1
    #: the student's SR images of this batch (detached), for a later network's update in the same step
    sr: torch.Tensor | None = None


@dataclass(frozen=True)
class Network:
    """A network a task trains: the module whose weights are optimised and saved, and what it is."""

    name: str
    module: nn.Module
    role: str  # "student" or "teacher": what its weights file holds (read back by compare and upscale)
    config: ComponentConfig


class Task:
    """Validation through the teacher (and an ensemble's further members), and the monitor."""

    fit: str
    #: whether :meth:`preview` draws a picture for the logs
    previews = False
    #: validation metrics also reported for the classifier on the originals, as ``original_<metric>``
    on_originals: tuple[str, ...] = ()
    monitor: str
    metrics: tuple[str, ...]
    networks: list[Network]
    #: the validation row the monitor and the metrics are read from
    row: str = ORIGINAL

    def __init__(self, recipe: Recipe, parts: Parts) -> None:
        self.teacher, self.degradation, self.device, self.runtime = (
            parts.teacher, parts.degradation, parts.device, recipe.runtime
        )  # fmt: skip
        #: the rows validation compares with the original: method name -> SR module
        self.methods: dict[str, nn.Module] = {}
        #: whether label metrics apply: class logits from the teacher, and labels in the data
        self.labels = self.teacher.outputs_classes and parts.data.info.labelled
        #: an ensemble's further members (validated in the same pass as the teacher) and every member's weight
        self.members: dict[str, Teacher] = {}
        self.member_weights = recipe.teacher_weights()

    def wrap(self, cluster: Cluster, device: torch.device) -> None:
        """Wrap the trained modules the steps run for several processes (a no-op for one)."""

    def train_mode(self) -> None:
        raise NotImplementedError

    def forward(self, batch: TrainBatch, network: str) -> dict[str, torch.Tensor]:
        """The losses of ``network``'s update on ``batch``; the total under ``"loss"``."""
        raise NotImplementedError

    def preview(self, hr: torch.Tensor) -> torch.Tensor | None:
        """A picture of the task's work on ``hr`` for the logs, if it has one."""
        return None

    def validate(
        self, loader: DataLoader, console: Console | None, cluster: Cluster = SINGLE, bad_files: set[str] | None = None
    ) -> dict[str, float]:
        """Validation metrics through the teacher; with an ensemble the monitor is the members' weighted mean."""
        done = evaluate(
            loader, self.teacher, self.degradation, self.methods, self.metrics, self.device, console, "validate",
            lines=False, runtime=self.runtime, cluster=cluster, bad_files=bad_files, labels=self.labels,
            classifiers=self.members, classifier_metrics=(self.monitor,), timed=False,
        )  # fmt: skip
        row = self.row
        values = dict(done.rows[row].metrics)
        values |= {f"original_{m}": done.rows[ORIGINAL].metrics[m] for m in self.on_originals if m in values}
        if self.members:
            per = {MAIN_TEACHER: values[self.monitor]}
            per |= {name: rows[row].metrics[self.monitor] for name, rows in done.classifiers.items()}
            total = sum(self.member_weights.values())
            values[self.monitor] = sum(w * per[name] for name, w in self.member_weights.items()) / total
        return values

    @property
    def higher_is_better(self) -> bool:
        return catalog().metrics.get(self.monitor).build().higher_is_better


@torch.no_grad()
def sr_preview(student: SuperResolver, degradation: nn.Module, hr: torch.Tensor) -> torch.Tensor:
    """A picture of the student's work on ``hr`` for the logs: original | degraded | SR rows."""
    from srdistill.engine.board import reconstruction_grid

    was = student.training
    student.eval()
    seen = sr_pass(hr, hr.new_zeros(len(hr)), degradation, None, {"student": student})
    student.train(was)
    return reconstruction_grid(hr, seen.lr, seen.sr["student"])
