"""What is trained: the student (SR distillation) or the teacher (classification on originals).

Both tasks give the training loop the same three things: the module whose weights are
optimised and saved, a ``losses(hr, labels)`` step, and a ``validate(loader)`` pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from rich.console import Console
from torch import nn
from torch.utils.data import DataLoader

from srdistill.engine.build import Parts
from srdistill.engine.distributed import SINGLE, Cluster
from srdistill.engine.evaluate import ORIGINAL, evaluate
from srdistill.engine.teacher_cache import LogitCache
from srdistill.errors import UserError
from srdistill.losses.base import LossInputs, WeightedSum
from srdistill.losses.features import capture, check_layers
from srdistill.recipe.schema import VALIDATION_VALUES, Recipe
from srdistill.registry import ComponentConfig
from srdistill.students.base import SuperResolver

STUDENT_VAL_METRICS = tuple(v for v in VALIDATION_VALUES["student"] if v != "ce_gap")
TEACHER_VAL_METRICS = VALIDATION_VALUES["teacher"]


class StudentFit:
    """Train the student so the frozen teacher sees in SR what it sees in the original.

    The teacher's pass on the original runs without gradient; its pass on the SR image keeps
    the graph, so the loss gradient flows through the frozen teacher into the student.
    Validation uses the paper's rule: ``ce_gap`` = CE on SR − CE on originals.
    """

    role = "student"

    def __init__(self, recipe: Recipe, parts: Parts, device: torch.device) -> None:
        assert parts.student is not None and parts.loss is not None and recipe.student is not None
        if not parts.student.trainable:
            raise UserError(
                f"Student '{recipe.student.type}' has no weights to train.",
                "Use a learned student such as rrdb; interpolation students are baselines for compare.",
            )
        self.student: SuperResolver = parts.student
        self.teacher = parts.teacher.freeze()
        self.degradation = parts.degradation
        self.loss: WeightedSum = parts.loss
        self.layers = self.loss.teacher_layers
        check_layers(self.teacher.model, self.layers)
        self.device = device
        self.runtime = recipe.runtime
        self.config: ComponentConfig = parts.student.config or recipe.student
        self.cache: LogitCache | None = None
        if recipe.runtime.cache_teacher:
            if self.layers or self.teacher.kind != "classifier":
                raise UserError(
                    "runtime.cache_teacher keeps the teacher's logits, but "
                    + (f"the losses need its features {list(self.layers)}." if self.layers else
                       f"teacher '{recipe.teacher.type}' outputs {self.teacher.kind} maps."),
                    "Set runtime.cache_teacher: false.",
                )  # fmt: skip
            self.cache = LogitCache(len(parts.data.train), device)

    @property
    def model(self) -> nn.Module:
        return self.student

    @property
    def weights(self) -> nn.Module:
        return self.student.net

    def train_mode(self) -> None:
        self.student.train()  # the teacher stays frozen in evaluation mode

    def losses(
        self,
        hr: torch.Tensor,
        labels: torch.Tensor,
        model: nn.Module | None = None,
        index: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """One step's losses; ``model`` is :attr:`model` wrapped for multi-process training, if it is;
        ``index`` (data set indices of ``hr``) lets the teacher's logits on originals come from the cache."""
        model = model or self.model
        with torch.no_grad():
            lr = self.degradation(hr)
        sr = model(lr, (hr.shape[-2], hr.shape[-1]))
        if not self.loss.needs_teacher:
            return self.loss(LossInputs(hr, sr, labels))
        use_cache = self.cache is not None and index is not None
        hr_logits = self.cache.get(index) if use_cache else None  # type: ignore[union-attr,arg-type]
        hr_features: dict[str, torch.Tensor] = {}
        if hr_logits is None:
            with capture(self.teacher.model, self.layers) as hr_features, torch.no_grad():
                hr_logits = self.teacher(hr)
            if use_cache:
                self.cache.put(index, hr_logits)  # type: ignore[union-attr,arg-type]
        with capture(self.teacher.model, self.layers) as sr_features:
            sr_logits = self.teacher(sr)
        return self.loss(LossInputs(hr, sr, labels, hr_logits, sr_logits, hr_features, sr_features))

    @torch.no_grad()
    def preview(self, hr: torch.Tensor) -> torch.Tensor:
        """A picture of the student's work on ``hr``: original | degraded | SR rows."""
        from srdistill.engine.board import reconstruction_grid

        was = self.student.training
        self.student.eval()
        lr = self.degradation(hr)
        sr = self.student(lr, (hr.shape[-2], hr.shape[-1]))
        self.student.train(was)
        return reconstruction_grid(hr, lr, sr)

    def validate(
        self,
        loader: DataLoader,
        console: Console | None,
        cluster: Cluster = SINGLE,
        bad_files: set[str] | None = None,
    ) -> dict[str, float]:
        rows = evaluate(
            loader,
            self.teacher,
            self.degradation,
            {"student": self.student},
            STUDENT_VAL_METRICS,
            self.device,
            console,
            "validate",
            lines=False,
            runtime=self.runtime,
            cluster=cluster,
            bad_files=bad_files,
        )
        values = dict(rows["student"].metrics)
        if self.teacher.kind != "classifier":  # maps, no labels: only the label-free values apply
            return {k: v for k, v in values.items() if k not in ("top1", "top5", "ce")}
        values["ce_gap"] = values["ce"] - rows[ORIGINAL].metrics["ce"]
        return values


class TeacherFit:
    """Fit the teacher with cross-entropy on the originals (optionally with random flips)."""

    role = "teacher"

    def __init__(self, recipe: Recipe, parts: Parts, device: torch.device) -> None:
        self.teacher = parts.teacher
        self.head_only = recipe.train.trainable == "head"
        self.teacher.requires_grad_(not self.head_only)
        if self.head_only:
            self.head().requires_grad_(True)
        self.degradation = parts.degradation
        self.label_smoothing = recipe.train.label_smoothing
        self.hflip = recipe.train.hflip
        self.device = device
        self.runtime = recipe.runtime
        self.config: ComponentConfig = recipe.teacher

    @property
    def model(self) -> nn.Module:
        return self.teacher

    @property
    def weights(self) -> nn.Module:
        return self.teacher.model

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

    def losses(
        self,
        hr: torch.Tensor,
        labels: torch.Tensor,
        model: nn.Module | None = None,
        index: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """One step's losses; ``model`` is :attr:`model` wrapped for multi-process training, if it is."""
        model = model or self.model
        if self.hflip:
            flip = torch.rand(hr.shape[0], 1, 1, 1, device=hr.device) < 0.5
            hr = torch.where(flip, hr.flip(-1), hr)
        logits = model(hr)
        return {"loss": F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)}

    def validate(
        self,
        loader: DataLoader,
        console: Console | None,
        cluster: Cluster = SINGLE,
        bad_files: set[str] | None = None,
    ) -> dict[str, float]:
        rows = evaluate(
            loader,
            self.teacher,
            self.degradation,
            {},
            TEACHER_VAL_METRICS,
            self.device,
            console,
            "validate",
            lines=False,
            runtime=self.runtime,
            cluster=cluster,
            bad_files=bad_files,
        )
        return dict(rows[ORIGINAL].metrics)


Task = StudentFit | TeacherFit


def make_task(recipe: Recipe, parts: Parts, device: torch.device) -> Task:
    return StudentFit(recipe, parts, device) if recipe.train.fit == "student" else TeacherFit(recipe, parts, device)
