"""The joint fit (SR4IR): the student and the classifier trained together, one update each per step.

The student's update reads its losses through the classifier as it stands, frozen and in
evaluation mode for that update (SR4IR's task-driven loss: logits or features of SR against the
original's). The classifier's update then takes cross-entropy on the student's SR images (made
in the first update, detached), on the originals, and on CQMix images: a grid of patches, each
from SR or the original at random. The recipe's ``teacher`` gives the classifier's first weights
and is never written; the classifier is saved in the run folder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srdistill.degradations import training_target
from srdistill.engine import distributed
from srdistill.engine.build import Parts
from srdistill.engine.distributed import Cluster
from srdistill.engine.sr_pass import sr_pass
from srdistill.engine.tasks.base import Network, Task, TrainBatch, sr_preview
from srdistill.losses.base import LossInputs, WeightedSum
from srdistill.methods import ORIGINAL
from srdistill.recipe.schema import Recipe
from srdistill.recipe.train import JointFitConfig
from srdistill.students.base import SuperResolver


def cqmix(sr: torch.Tensor, hr: torch.Tensor, grid: int) -> torch.Tensor:
    """Each image cut into ``grid × grid`` patches, each patch from ``sr`` or ``hr`` with even odds."""
    pick = (torch.rand(sr.shape[0], 1, grid, grid, device=sr.device) < 0.5).to(sr.dtype)
    pick = F.interpolate(pick, size=sr.shape[-2:], mode="nearest")
    return pick * sr + (1 - pick) * hr


class JointTask(Task):
    """The student's update through the classifier, then the classifier's cross-entropy update."""

    fit = "joint"
    previews = True
    on_originals = ("top1",)

    def __init__(self, recipe: Recipe, parts: Parts) -> None:
        super().__init__(recipe, parts)
        assert isinstance(recipe.train, JointFitConfig)
        assert parts.student is not None and parts.loss is not None and recipe.student is not None
        self.train = recipe.train
        self.classifier = parts.teacher  # trained here: validation reads it as the teacher
        self.student: SuperResolver = parts.student
        self.stepped_student: nn.Module = self.student
        self.stepped_classifier: nn.Module = self.classifier
        self.loss: WeightedSum = parts.loss
        self.warmup_loss = parts.loss.pixel_terms()  # what the student learns from during the warm-up
        self.layers = self.loss.teacher_layers
        self.methods, self.row = {"student": self.student}, "student"
        self.monitor = self.train.monitor_for(self.labels)
        self.metrics = tuple(dict.fromkeys([*self.train.val_metrics, self.monitor]))
        self.networks = [
            Network("student", self.student.net, "student", parts.student.config or recipe.student),
            Network("classifier", self.classifier.model, "teacher", recipe.teacher),
        ]

    def wrap(self, cluster: Cluster, device: torch.device) -> None:
        self.stepped_student = distributed.wrap(self.student, cluster, device)
        self.stepped_classifier = distributed.wrap(self.classifier, cluster, device)

    def train_mode(self) -> None:
        self.student.train()
        self.classifier.train()

    def forward(self, batch: TrainBatch, network: str) -> dict[str, torch.Tensor]:
        return self._student(batch) if network == "student" else self._classifier(batch)

    def _student(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        """The student's losses through the classifier, frozen for this update (no weight gradients, eval mode)."""
        warming = batch.epoch <= self.train.task_warmup_epochs
        hr = training_target(self.degradation, batch.hr)  # e.g. Real-ESRNet's sharpened originals (gt_usm)
        self.classifier.eval().requires_grad_(False)
        seen = sr_pass(hr, batch.labels, self.degradation, None if warming else self.classifier,
                       {"student": self.stepped_student}, clamp=False, layers=self.layers)  # fmt: skip
        sr = seen.sr["student"]
        batch.sr = sr.detach().clamp(0.0, 1.0)
        if warming:
            assert self.warmup_loss is not None  # engine.validity: a warm-up needs a pixel loss
            out = self.warmup_loss(LossInputs(hr, sr, batch.labels))
            zero = torch.zeros((), device=sr.device)
            return {name: out.get(name, zero) for name in [*self.loss.names, "loss"]}
        out = seen.teacher
        return self.loss(LossInputs(hr, sr, batch.labels, out[ORIGINAL].logits, out["student"].logits,
                                    out[ORIGINAL].features, out["student"].features))  # fmt: skip

    def _classifier(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        """Cross-entropy on SR, original and mixed images, in one batch through the classifier in training mode."""
        assert batch.sr is not None, "the student's update runs first in a step"
        self.classifier.train().requires_grad_(True)
        ce = self.train.ce
        parts = {"sr": (ce.sr, batch.sr), "original": (ce.original, batch.hr)}
        if ce.mix > 0:
            parts["mix"] = (ce.mix, cqmix(batch.sr, batch.hr, self.train.mix_grid))
        used = {name: (w, images) for name, (w, images) in parts.items() if w > 0}
        logits = self.stepped_classifier(torch.cat([images for _, images in used.values()])).split(len(batch.hr))
        out: dict[str, torch.Tensor] = {}
        total = None
        for (name, (weight, _)), part in zip(used.items(), logits, strict=True):
            value = F.cross_entropy(part, batch.labels, label_smoothing=self.train.label_smoothing)
            out[f"ce_{name}"] = value.detach()
            total = weight * value if total is None else total + weight * value
        assert total is not None
        out["loss"] = total
        return out

    def preview(self, hr: torch.Tensor) -> torch.Tensor:
        return sr_preview(self.student, self.degradation, hr)
