"""Losses between the teacher's outputs on the original and on the SR image."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from srdistill.losses.base import Loss, LossInputs, WeightedConfig


class LogitMSEConfig(WeightedConfig):
    """MSE between the teacher's logits on original and SR (the paper's loss)."""

    type: Literal["logit_mse"]


class CEGapConfig(WeightedConfig):
    """CE(teacher(SR), labels) − CE(teacher(original), labels): the paper's validation loss."""

    type: Literal["ce_gap"]


class KLConfig(WeightedConfig):
    """KL(teacher(original) ‖ teacher(SR)) of softmax at a temperature, × T² (Hinton et al.)."""

    type: Literal["kl"]
    temperature: float = Field(1.0, gt=0, description="Softmax temperature T.")


def _logits(inputs: LossInputs) -> tuple[torch.Tensor, torch.Tensor]:
    if inputs.hr_logits is None or inputs.sr_logits is None:
        raise RuntimeError("teacher logits are missing")
    return inputs.hr_logits, inputs.sr_logits


class LogitMSE(Loss):
    """Mean squared error over batch and classes between SR and original logits."""

    def forward(self, inputs: LossInputs) -> torch.Tensor:
        hr, sr = _logits(inputs)
        return F.mse_loss(sr, hr)


class CEGap(Loss):
    """Cross-entropy of the SR logits minus that of the original logits (only the first has a gradient)."""

    def forward(self, inputs: LossInputs) -> torch.Tensor:
        hr, sr = _logits(inputs)
        return F.cross_entropy(sr, inputs.labels) - F.cross_entropy(hr, inputs.labels)


class KLDivergence(Loss):
    """``T² · KL(softmax(hr / T) ‖ softmax(sr / T))``, averaged over the batch."""

    def __init__(self, temperature: float) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, inputs: LossInputs) -> torch.Tensor:
        hr, sr = _logits(inputs)
        t = self.temperature
        kl = F.kl_div(
            F.log_softmax(sr / t, dim=1), F.log_softmax(hr / t, dim=1), log_target=True, reduction="batchmean"
        )
        return kl * t * t


def build_logit_mse(cfg: LogitMSEConfig) -> Loss:
    return LogitMSE()


def build_ce_gap(cfg: CEGapConfig) -> Loss:
    return CEGap()


def build_kl(cfg: KLConfig) -> Loss:
    return KLDivergence(cfg.temperature)
