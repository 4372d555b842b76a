"""The teacher fit: the classifier trained with cross-entropy, on the originals, on what it would
see of them without SR (degraded, then bicubic-upscaled), or on both at random (mixed)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srdistill.catalog import catalog
from srdistill.degradations import training_target
from srdistill.engine import distributed
from srdistill.engine.build import Parts
from srdistill.engine.distributed import Cluster
from srdistill.engine.tasks.base import Network, Task, TrainBatch
from srdistill.methods import REFERENCE_BASELINE
from srdistill.recipe.schema import Recipe
from srdistill.recipe.train import TeacherFitConfig


def classifier_head(model: nn.Module) -> nn.Module:
    """The model's classifier layer (timm's ``get_classifier``; engine.validity checks that it has one)."""
    return model.get_classifier()  # type: ignore[operator]


class TeacherTask(Task):
    """The teacher's cross-entropy on its inputs (optionally flipped at random)."""

    fit = "teacher"

    def __init__(self, recipe: Recipe, parts: Parts) -> None:
        super().__init__(recipe, parts)
        assert isinstance(recipe.train, TeacherFitConfig)
        self.train = recipe.train
        self.head_only = self.train.trainable == "head"
        self.teacher.requires_grad_(not self.head_only)
        if self.head_only:
            classifier_head(self.teacher.model).requires_grad_(True)
        self.stepped: nn.Module = self.teacher
        self.monitor = self.train.monitor_for(True)
        self.metrics = tuple(dict.fromkeys([*self.train.val_metrics, self.monitor]))
        self.networks = [Network("teacher", self.teacher.model, "teacher", recipe.teacher)]
        if self.train.inputs != "original":  # validated on bicubic upscales of the degraded images
            entry = catalog().students.get(REFERENCE_BASELINE)
            assert entry.config is not None
            self.upscale = entry.build(entry.config(type=REFERENCE_BASELINE), parts.data.info).to(parts.device)
            self.methods, self.row, self.on_originals = (
                {REFERENCE_BASELINE: self.upscale},
                REFERENCE_BASELINE,
                ("top1",),
            )

    def wrap(self, cluster: Cluster, device: torch.device) -> None:
        self.stepped = distributed.wrap(self.teacher, cluster, device)

    def train_mode(self) -> None:
        """Training mode; with only the head trained, the frozen backbone keeps its BatchNorm statistics."""
        self.teacher.train()
        if self.head_only:
            self.teacher.eval()
            classifier_head(self.teacher.model).train()

    def forward(self, batch: TrainBatch, network: str) -> dict[str, torch.Tensor]:
        images = batch.hr
        if self.train.hflip:
            flip = torch.rand(images.shape[0], 1, 1, 1, device=images.device) < 0.5
            images = torch.where(flip, images.flip(-1), images)
        if self.train.inputs != "original":  # as a student's training degrades them
            with torch.no_grad():
                lr = self.degradation(training_target(self.degradation, images))
                seen = self.upscale(lr, tuple(images.shape[-2:])).clamp(0.0, 1.0)
            if self.train.inputs == "mixed":  # each image degraded or kept, at even odds
                keep = torch.rand(images.shape[0], 1, 1, 1, device=images.device) < 0.5
                seen = torch.where(keep, images, seen)
            images = seen
        loss = F.cross_entropy(self.stepped(images), batch.labels, label_smoothing=self.train.label_smoothing)
        return {"loss": loss}
