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
from srdistill.degradations import training_target
from srdistill.engine.build import Parts
from srdistill.engine.distributed import SINGLE, Cluster
from srdistill.engine.evaluate import evaluate, label_free
from srdistill.engine.teacher_cache import LogitCache
from srdistill.engine.views import View, look
from srdistill.errors import UserError
from srdistill.losses.base import LossInputs, WeightedSum
from srdistill.losses.features import check_layers
from srdistill.methods import ORIGINAL
from srdistill.recipe.schema import (
    MAIN_TEACHER,
    STUDENT_VAL_METRICS,
    TEACHER_VAL_METRICS,
    Recipe,
    StudentTrain,
    TeacherTrain,
)
from srdistill.registry import ComponentConfig
from srdistill.students.base import SuperResolver
from srdistill.teachers.base import Teacher


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
        #: whether label metrics apply: class logits from the teacher, and labels in the data
        self.labels = self.teacher.outputs_classes and parts.data.info.labelled
        #: an ensemble's further teachers (seen in the same pass as ``teacher``) and every teacher's weight
        self.others: dict[str, Teacher] = {}
        self.teacher_weights = recipe.teacher_weights()

    def validate(
        self, loader: DataLoader, console: Console | None, cluster: Cluster = SINGLE, bad_files: set[str] | None = None
    ) -> dict[str, float]:
        """Validation metrics through ``teacher``; with an ensemble the monitor is the teachers' weighted mean."""
        done = evaluate(
            loader, self.teacher, self.degradation, self.methods, self.metrics, self.device, console, "validate",
            lines=False, runtime=self.runtime, cluster=cluster, bad_files=bad_files, labels=self.labels,
            judges=self.others, judge_metrics=(self.monitor,), timed=False,
        )  # fmt: skip
        row = "student" if self.methods else ORIGINAL
        values = dict(done.rows[row].metrics)
        if self.others:
            per = {MAIN_TEACHER: values[self.monitor]}
            per |= {name: rows[row].metrics[self.monitor] for name, rows in done.judges.items()}
            total = sum(self.teacher_weights.values())
            values[self.monitor] = sum(w * per[name] for name, w in self.teacher_weights.items()) / total
        return values

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
        self.others = parts.teachers
        for teacher in [self.teacher, *self.others.values()]:
            check_layers(teacher.model, self.layers)
        self.config = parts.student.config or recipe.student
        self.monitor = recipe.train.monitor_for(self.labels)
        dense = [n for n, t in {MAIN_TEACHER: self.teacher, **self.others}.items() if not t.outputs_classes]
        if not label_free([self.monitor]) and (dense or not self.labels):
            why = f"{', '.join(dense)} output{'s' * (len(dense) == 1)} maps, not class logits" if dense else (
                "the data set has no labels")  # fmt: skip
            raise UserError(
                f"train.monitor '{self.monitor}' needs labels, but {why}.",
                "Monitor logit_mse, agreement, psnr or ssim (logit_mse is the default without labels).",
            )
        self.metrics = tuple(dict.fromkeys([*STUDENT_VAL_METRICS, self.monitor]))
        self.cache: LogitCache | None = None
        if recipe.runtime.cache_teacher:
            if self.others:
                raise UserError("runtime.cache_teacher keeps one teacher's logits; teachers names an ensemble.",
                                "Set runtime.cache_teacher: false.")  # fmt: skip
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
        hr = training_target(self.degradation, hr)  # e.g. Real-ESRNet's sharpened originals (gt_usm)
        teacher = self.teacher if self.loss.needs_teacher else None
        cached = self.cache.get(index) if self.cache is not None and index is not None else None
        others = self.others if teacher is not None else {}
        looked = look(hr, labels, self.degradation, teacher, {"student": model}, clamp=False, layers=self.layers,
                      original=View(cached) if cached is not None else None, others=others)  # fmt: skip
        sr = looked.sr["student"]
        if teacher is None:
            return self.loss(LossInputs(hr, sr, labels))
        if self.cache is not None and index is not None and cached is None:
            self.cache.put(index, looked.views[ORIGINAL].logits)
        seen = {MAIN_TEACHER: looked.views} | looked.others
        return self.loss.over_teachers([(self.teacher_weights[name], LossInputs(
            hr, sr, labels, views[ORIGINAL].logits, views["student"].logits, views[ORIGINAL].features,
            views["student"].features)) for name, views in seen.items()])  # fmt: skip

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
