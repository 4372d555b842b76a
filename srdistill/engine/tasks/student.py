"""The student fit: train the SR network so the frozen teacher sees in SR what it sees in the original."""

from __future__ import annotations

import torch
from torch import nn

from srdistill.degradations import training_target
from srdistill.engine import distributed
from srdistill.engine.build import Parts
from srdistill.engine.distributed import Cluster
from srdistill.engine.sr_pass import ClassifierOutput, sr_pass
from srdistill.engine.tasks.base import Network, Task, TrainBatch, sr_preview
from srdistill.engine.teacher_cache import LogitCache
from srdistill.losses.base import LossInputs, WeightedSum
from srdistill.methods import ORIGINAL
from srdistill.recipe.schema import MAIN_TEACHER, Recipe
from srdistill.students.base import SuperResolver


class StudentTask(Task):
    """The losses of the student's update, through the teacher and an ensemble's further members."""

    fit = "student"
    previews = True

    def __init__(self, recipe: Recipe, parts: Parts) -> None:
        super().__init__(recipe, parts)
        assert parts.student is not None and parts.loss is not None and recipe.student is not None
        self.student: SuperResolver = parts.student
        self.stepped: nn.Module = self.student  # what the steps run: wrapped for several processes
        self.methods = {"student": self.student}
        self.row = "student"
        self.loss: WeightedSum = parts.loss
        self.layers = self.loss.teacher_layers
        self.members = parts.members
        self.monitor = recipe.train.monitor_for(self.labels)
        self.metrics = tuple(dict.fromkeys([*recipe.train.val_metrics, self.monitor]))
        self.networks = [Network("student", self.student.net, "student", parts.student.config or recipe.student)]
        self.cache = LogitCache(len(parts.data.train), parts.device) if recipe.runtime.cache_teacher else None

    def wrap(self, cluster: Cluster, device: torch.device) -> None:
        self.stepped = distributed.wrap(self.student, cluster, device)

    def train_mode(self) -> None:
        self.student.train()  # the teacher stays frozen in evaluation mode

    def forward(self, batch: TrainBatch, network: str) -> dict[str, torch.Tensor]:
        """The student's losses; the teacher's logits on the originals may come from the cache."""
        hr = training_target(self.degradation, batch.hr)  # e.g. Real-ESRNet's sharpened originals (gt_usm)
        teacher = self.teacher if self.loss.needs_teacher else None
        cached = self.cache.get(batch.index) if self.cache is not None else None
        members = self.members if teacher is not None else {}
        seen = sr_pass(hr, batch.labels, self.degradation, teacher, {"student": self.stepped}, clamp=False,
                       layers=self.layers, original=ClassifierOutput(cached) if cached is not None else None,
                       classifiers=members)  # fmt: skip
        sr = seen.sr["student"]
        if teacher is None:
            return self.loss(LossInputs(hr, sr, batch.labels))
        if self.cache is not None and cached is None:
            self.cache.put(batch.index, seen.teacher[ORIGINAL].logits)
        by_member = {MAIN_TEACHER: seen.teacher} | seen.classifiers
        return self.loss.over_teachers([(self.member_weights[name], LossInputs(
            hr, sr, batch.labels, out[ORIGINAL].logits, out["student"].logits, out[ORIGINAL].features,
            out["student"].features)) for name, out in by_member.items()])  # fmt: skip

    def preview(self, hr: torch.Tensor) -> torch.Tensor:
        return sr_preview(self.student, self.degradation, hr)
