"""What a run computes, counted on the meta device before anything trains: the training FLOPs of a
recipe's run and the FLOPs of recognising one image (``--dry-run`` shows them; a study budgets with them)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from srdistill.engine.build import Parts
from srdistill.engine.sr_pass import sr_pass
from srdistill.recipe.schema import Recipe
from srdistill.teachers.base import Teacher


def count_flops(fn: Callable[[], None]) -> int:
    """FLOPs of everything ``fn`` runs (forward and backward), counted by torch's FlopCounterMode."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def on_meta(module: nn.Module) -> nn.Module:
    """A copy of ``module`` on the meta device: shapes and FLOPs without memory or compute."""
    return copy.deepcopy(module).to("meta")


@dataclass(frozen=True)
class TrainingCost:
    """What a run's training computes, counted before it trains: every update of a step, forward and
    backward, per image (the optimizers' elementwise updates and validation are left out)."""

    step_flops_per_image: int
    batch_size: int
    steps_per_epoch: int
    epochs: int

    @property
    def steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    @property
    def flops(self) -> int:
        return self.step_flops_per_image * self.batch_size * self.steps


def training_cost(recipe: Recipe, parts: Parts) -> TrainingCost:
    """The training FLOPs of ``recipe``'s run, from the parts :func:`~srdistill.engine.build.build` made for it."""
    per_image = student_step_flops(recipe, parts) if recipe.trains_student else 0
    per_image += classifier_step_flops(recipe, parts) if recipe.trains_classifier else 0
    cfg = recipe.train
    whole = len(parts.data.train) // cfg.batch_size  # training drops the last partial batch
    steps = min(cfg.max_steps_per_epoch or whole, whole)
    return TrainingCost(per_image, cfg.batch_size, steps, cfg.epochs)


def inference_flops(parts: Parts, sr: bool) -> int:
    """FLOPs of recognising one image: the student's upscale (with ``sr``) and the teacher's forward."""
    c, (h, w) = parts.data.info.channels, parts.data.info.hr_size
    hr = torch.zeros(1, c, h, w, device="meta")
    teacher = on_meta(parts.teacher).eval().requires_grad_(False)
    total = count_flops(lambda: teacher(hr))
    if sr and parts.student is not None:
        student = on_meta(parts.student).eval().requires_grad_(False)
        total += count_flops(lambda: student.upscale(low_res(parts, hr)))
    return total


def student_step_flops(recipe: Recipe, parts: Parts) -> int:
    """One image of the student's update: forward and backward through the pass training uses, every
    teacher included when a loss reads one."""
    assert parts.student is not None and parts.loss is not None
    c, (h, w) = parts.data.info.channels, parts.data.info.hr_size
    hr = torch.zeros(1, c, h, w, device="meta")
    student = on_meta(parts.student).eval()
    teacher = on_meta(parts.teacher).eval().requires_grad_(False)  # frozen for the student's update
    members = {name: on_meta(t).eval().requires_grad_(False) for name, t in parts.members.items()}
    uses = parts.loss.needs_teacher
    return count_flops(lambda: _student_step(student, teacher, hr, low_res(parts, hr), uses, members))


def classifier_images(recipe: Recipe) -> int:
    """Images the classifier's update reads per training image: 1, or a joint fit's SR, original and mix."""
    ce = getattr(recipe.train, "ce", None)
    return 1 if ce is None else sum(1 for wt in (ce.sr, ce.original, ce.mix) if wt > 0)


def classifier_step_flops(recipe: Recipe, parts: Parts) -> int:
    """One training image of the classifier's update, forward and backward."""
    c, (h, w) = parts.data.info.channels, parts.data.info.hr_size
    images = torch.zeros(classifier_images(recipe), c, h, w, device="meta")
    trainable = on_meta(parts.teacher).eval().requires_grad_(True)  # eval: BatchNorm takes a batch of one
    return count_flops(lambda: trainable(images).sum().backward())


def low_res(parts: Parts, hr: torch.Tensor) -> torch.Tensor:
    size = parts.degradation.output_size(tuple(hr.shape[-2:])) if hasattr(parts.degradation, "output_size") else None
    return torch.zeros(*hr.shape[:2], *(size or hr.shape[-2:]), device="meta")


def _student_step(
    student: nn.Module,
    teacher: Teacher,
    hr: torch.Tensor,
    lr: torch.Tensor,
    uses_teacher: bool,
    members: dict[str, Teacher],
) -> None:
    """One training step's forward and backward through the pass training uses, every teacher
    included (the optimizer's update is elementwise and left out)."""
    labels = torch.zeros(hr.shape[0], dtype=torch.long, device=hr.device)
    seen = sr_pass(
        hr,
        labels,
        _Degraded(lr),
        teacher if uses_teacher else None,
        {"student": student},
        clamp=False,
        classifiers=members if uses_teacher else {},
    )
    if not uses_teacher:
        seen.sr["student"].sum().backward()
        return
    outs = [seen.teacher["student"].logits, *(out["student"].logits for out in seen.classifiers.values())]
    sum(o.sum() for o in outs).backward()  # type: ignore[union-attr]


class _Degraded(nn.Module):
    """Stands in for the degradation on the meta device (it has no FLOPs worth counting)."""

    def __init__(self, lr: torch.Tensor) -> None:
        super().__init__()
        self.lr = lr

    def forward(self, hr: torch.Tensor) -> torch.Tensor:
        return self.lr
