"""What is trained: the student (SR distillation) or the teacher (classification on originals).

Both tasks give the training loop the same things: the module whose weights are optimised and
saved, ``forward(hr, labels)`` returning the step's losses, and ``validate(loader)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from rich.console import Console
from torch import nn
from torch.utils.data import DataLoader

from srdistill.catalog import catalog
from srdistill.engine.build import Parts
from srdistill.engine.distributed import SINGLE, Cluster
from srdistill.engine.evaluate import evaluate
from srdistill.engine.teacher_cache import LogitCache
from srdistill.engine.views import View, look
from srdistill.errors import UserError
from srdistill.losses.base import LossInputs, WeightedSum
from srdistill.losses.features import check_layers
from srdistill.methods import ORIGINAL
from srdistill.recipe.schema import STUDENT_VAL_METRICS, TEACHER_VAL_METRICS, Recipe, StudentTrain, TeacherTrain
from srdistill.registry import ComponentConfig
from srdistill.students.base import SuperResolver


class Fit:
    """What both tasks share: validation through the one evaluation pass, and the monitor."""

    role: str
    config: ComponentConfig
    monitor: str
    metrics: tuple[str, ...]
    model: nn.Module  # what the step runs (wrapped for several processes by the loop)
    weights: nn.Module  # what is optimised and saved (the network inside it)

    def __init__(self, recipe: Recipe, parts: Parts) -> None:
        self.teacher, self.degradation, self.device, self.runtime = (
            parts.teacher, parts.degradation, parts.device, recipe.runtime
        )  # fmt: skip
        self.methods: dict[str, nn.Module] = {}

    def validate(
        self, loader: DataLoader, console: Console | None, cluster: Cluster = SINGLE, bad_files: set[str] | None = None
    ) -> dict[str, float]:
        rows = evaluate(
            loader, self.teacher, self.degradation, self.methods, self.metrics, self.device, console, "validate",
            lines=False, runtime=self.runtime, cluster=cluster, bad_files=bad_files,
        ).rows  # fmt: skip
        values = rows["student" if self.methods else ORIGINAL].metrics
        return {k: v for k, v in values.items() if v == v or self.teacher.outputs_classes}

    @property
    def higher_is_better(self) -> bool:
        return catalog().metrics.get(self.monitor).build().higher_is_better


class StudentFit(Fit):
    """Train the student so the frozen teacher sees in SR what it sees in the original."""

    role = "student"

    def __init__(self, recipe: Recipe, parts: Parts) -> None:
        super().__init__(recipe, parts)
        assert parts.student is not None and parts.loss is not None and recipe.student is not None
        if not parts.student.trainable:
            raise UserError(
                f"Student '{recipe.student.type}' has no weights to train.",
                "Use a learned student such as rrdb; interpolation students are baselines for compare.",
            )
        self.student: SuperResolver = parts.student
        self.model, self.weights = self.student, self.student.net
        self.methods = {"student": self.student}
        self.loss: WeightedSum = parts.loss
        self.layers = self.loss.teacher_layers
        check_layers(self.teacher.model, self.layers)
        self.config = parts.student.config or recipe.student
        self.monitor = recipe.train.monitor_for(self.teacher.outputs_classes)
        needs_labels = catalog().metrics.get(self.monitor).build().needs_labels
        if needs_labels and not self.teacher.outputs_classes:
            raise UserError(
                f"train.monitor '{self.monitor}' needs labels, but teacher '{recipe.teacher.type}' outputs "
                f"{self.teacher.kind} maps.",
                "Monitor logit_mse, agreement, psnr or ssim (logit_mse is the default for such teachers).",
            )
        self.metrics = tuple(dict.fromkeys([*STUDENT_VAL_METRICS, self.monitor]))
        self.cache: LogitCache | None = None
        if recipe.runtime.cache_teacher:
            if self.layers or not self.teacher.outputs_classes:
                raise UserError(
                    "runtime.cache_teacher keeps the teacher's logits, but "
                    + (f"the losses need its features {list(self.layers)}." if self.layers else
                       f"teacher '{recipe.teacher.type}' outputs {self.teacher.kind} maps."),
                    "Set runtime.cache_teacher: false.",
                )  # fmt: skip
            self.cache = LogitCache(len(parts.data.train), parts.device)

    def train_mode(self) -> None:
        self.student.train()  # the teacher stays frozen in evaluation mode

    def forward(
        self, model: nn.Module, hr: torch.Tensor, labels: torch.Tensor, index: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """The step's losses; ``model`` is the student, wrapped for multi-process training if it is;
        ``index`` (data set indices of ``hr``) lets the teacher's logits on originals come from the cache."""
        teacher = self.teacher if self.loss.needs_teacher else None
        cached = self.cache.get(index) if self.cache is not None and index is not None else None
        looked = look(hr, labels, self.degradation, teacher, {"student": model}, clamp=False, layers=self.layers,
                      original=View(cached) if cached is not None else None)  # fmt: skip
        if teacher is None:
            return self.loss(LossInputs(hr, looked.sr["student"], labels))
        ref, seen = looked.views[ORIGINAL], looked.views["student"]
        if self.cache is not None and index is not None and cached is None:
            self.cache.put(index, ref.logits)
        return self.loss(LossInputs(hr, looked.sr["student"], labels, ref.logits, seen.logits, ref.features,
                                    seen.features))  # fmt: skip

    @torch.no_grad()
    def preview(self, hr: torch.Tensor) -> torch.Tensor:
        """A picture of the student's work on ``hr``: original | degraded | SR rows."""
        from srdistill.engine.board import reconstruction_grid

        was = self.student.training
        self.student.eval()
        looked = look(hr, hr.new_zeros(len(hr)), self.degradation, None, {"student": self.student})
        self.student.train(was)
        return reconstruction_grid(hr, looked.lr, looked.sr["student"])


class TeacherFit(Fit):
    """Fit the teacher with cross-entropy on the originals (optionally with random flips)."""

    role = "teacher"

    def __init__(self, recipe: Recipe, parts: Parts, train: TeacherTrain) -> None:
        super().__init__(recipe, parts)
        if not self.teacher.outputs_classes:
            raise UserError(
                f"train.fit: teacher fits with labels, but teacher '{recipe.teacher.type}' outputs "
                f"{self.teacher.kind} maps.",
                "Fit a classifier teacher, or train the student (train.fit: student).",
            )
        self.train = train
        self.model, self.weights = self.teacher, self.teacher.model
        self.head_only = train.trainable == "head"
        self.teacher.requires_grad_(not self.head_only)
        if self.head_only:
            self.head().requires_grad_(True)
        self.config = recipe.teacher
        self.monitor = train.monitor_for(True)
        self.metrics = tuple(dict.fromkeys([*TEACHER_VAL_METRICS, self.monitor]))

    def head(self) -> nn.Module:
        get = getattr(self.teacher.model, "get_classifier", None)
        if get is None:
            raise UserError(
                f"train.trainable: head needs a model with a classifier to find (timm's get_classifier); "
                f"{type(self.teacher.model).__name__} has none.",
                "Use train.trainable: all.",
            )
        return get()

    def train_mode(self) -> None:
        """Training mode; with only the head trained, the frozen backbone keeps its BatchNorm statistics."""
        self.teacher.train()
        if self.head_only:
            self.teacher.eval()
            self.head().train()

    def forward(
        self, model: nn.Module, hr: torch.Tensor, labels: torch.Tensor, index: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """The step's loss; ``model`` is the teacher, wrapped for multi-process training if it is."""
        if self.train.hflip:
            flip = torch.rand(hr.shape[0], 1, 1, 1, device=hr.device) < 0.5
            hr = torch.where(flip, hr.flip(-1), hr)
        loss = F.cross_entropy(model(hr), labels, label_smoothing=self.train.label_smoothing)
        return {"loss": loss}


Task = StudentFit | TeacherFit


def make_task(recipe: Recipe, parts: Parts) -> Task:
    if isinstance(recipe.train, TeacherTrain):
        return TeacherFit(recipe, parts, recipe.train)
    assert isinstance(recipe.train, StudentTrain)
    return StudentFit(recipe, parts)
