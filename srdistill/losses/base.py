"""What a loss sees, and the weighted sum a recipe's ``losses:`` list becomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from pydantic import Field
from torch import nn

from srdistill.registry import ComponentConfig


class WeightedConfig(ComponentConfig):
    """Base of loss configs: every term of the sum has a weight."""

    weight: float = Field(1.0, ge=0, allow_inf_nan=False, description="Weight of this term in the total loss.")


@dataclass
class LossInputs:
    """One training batch as the losses see it.

    ``hr_logits`` come from the frozen teacher on the originals (no gradient);
    ``sr_logits`` from the teacher on the student's output (gradients flow through it).
    Both are ``None`` when no loss of the recipe needs the teacher.
    """

    hr: torch.Tensor
    sr: torch.Tensor
    labels: torch.Tensor
    hr_logits: torch.Tensor | None = None
    sr_logits: torch.Tensor | None = None
    #: outputs of the teacher's layers that some loss names (``Loss.teacher_layers``)
    hr_features: dict[str, torch.Tensor] | None = None
    sr_features: dict[str, torch.Tensor] | None = None


class Loss(nn.Module):
    """Base of student losses: ``forward(inputs) -> scalar``."""

    #: whether the loss reads ``hr_logits``/``sr_logits`` (the teacher runs only if one does)
    needs_teacher: bool = True
    #: names of teacher layers whose outputs the loss reads (``hr_features``/``sr_features``)
    teacher_layers: tuple[str, ...] = ()

    def forward(self, inputs: LossInputs) -> torch.Tensor:
        raise NotImplementedError


class WeightedSum(nn.Module):
    """``sum(weight_i * loss_i)``; returns every term and the total under ``"loss"``.

    Args:
        terms: ``(name, weight, loss)`` triples; names must be unique.
    """

    def __init__(self, terms: list[tuple[str, float, Loss]]) -> None:
        super().__init__()
        self.names = [name for name, _, _ in terms]
        self.weights = [weight for _, weight, _ in terms]
        self.losses = nn.ModuleList([loss for _, _, loss in terms])

    @property
    def needs_teacher(self) -> bool:
        return any(loss.needs_teacher or loss.teacher_layers for loss in self.losses)

    @property
    def teacher_layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for loss in self.losses for name in loss.teacher_layers))

    def pixel_terms(self) -> WeightedSum | None:
        """The terms that read no classifier, weighted as here (None if there is none with a weight)."""
        terms = [(n, w, term) for n, w, term in zip(self.names, self.weights, self.losses, strict=True)
                 if not (term.needs_teacher or term.teacher_layers)]  # fmt: skip
        return WeightedSum(terms) if sum(w for _, w, _ in terms) > 0 else None

    def forward(self, inputs: LossInputs) -> dict[str, torch.Tensor]:
        return self.over_teachers([(1.0, inputs)])  # 1.0 · x is exact: one teacher's sum is unchanged

    def over_teachers(self, views: Sequence[tuple[float, LossInputs]]) -> dict[str, torch.Tensor]:
        """A teacher ensemble's sum: each term that needs a teacher is applied once per teacher
        (``(teacher weight, inputs as that teacher sees them)``) and summed with the teachers'
        weights; a term without a teacher (pixel losses) is applied once, to the first inputs."""
        out: dict[str, torch.Tensor] = {}
        total: torch.Tensor | None = None
        for name, weight, loss in zip(self.names, self.weights, self.losses, strict=True):
            if loss.needs_teacher or loss.teacher_layers:
                value = sum(w * loss(inputs) for w, inputs in views)
            else:
                value = loss(views[0][1])
            out[name] = value.detach()
            total = weight * value if total is None else total + weight * value
        assert total is not None, "a WeightedSum needs at least one term"
        out["loss"] = total
        return out
