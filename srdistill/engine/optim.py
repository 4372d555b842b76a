"""The recipe's optimizer and learning-rate schedule, both from timm."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from srdistill.errors import UserError
from srdistill.recipe.train import NetworkConfig


def optimizer_and_scheduler(
    module: nn.Module, cfg: NetworkConfig, epochs: int, steps_per_epoch: int, section: str = "train"
) -> tuple[Any, Any]:
    """Fused where the optimizer has a fused form (unless switched off); the schedule steps per update.
    ``section`` is where ``cfg`` sits in the recipe (for messages)."""
    from timm.optim import create_optimizer_v2
    from timm.scheduler import create_scheduler_v2

    opt, sched = cfg.optimizer, cfg.scheduler
    kwargs = {"lr": opt.lr, "weight_decay": opt.weight_decay, "momentum": opt.momentum}
    if opt.fused is False:
        optimizer = create_optimizer_v2(module, opt=opt.name, **kwargs)
    else:
        try:
            optimizer = create_optimizer_v2(module, opt=opt.name, fused=True, **kwargs)
        except (TypeError, RuntimeError):  # no fused form, or not for this device
            if opt.fused:
                raise UserError(
                    f"{section}.optimizer.fused is true but optimizer '{opt.name}' has no fused form here.",
                    f"Use adam, adamw or sgd, or drop {section}.optimizer.fused.",
                ) from None
            optimizer = create_optimizer_v2(module, opt=opt.name, **kwargs)
    if sched.name == "none":
        return optimizer, None
    scheduler, _ = create_scheduler_v2(
        optimizer,
        sched=sched.name,
        num_epochs=epochs,
        warmup_epochs=sched.warmup_epochs,
        warmup_lr=sched.warmup_lr,
        min_lr=sched.min_lr,
        decay_epochs=sched.decay_epochs,
        decay_milestones=list(sched.decay_milestones),
        decay_rate=sched.decay_rate,
        step_on_epochs=False,
        updates_per_epoch=steps_per_epoch,
    )
    return optimizer, scheduler


def check_optimizers(settings: dict[str, NetworkConfig], device: torch.device) -> list[UserError]:
    """Each trained network's optimizer and schedule, made once on a one-weight module on ``device``: what
    training would refuse at its first step (a fused kernel the optimizer or the device lacks) is found here."""
    found = []
    for name, cfg in settings.items():
        section = "train" if len(settings) == 1 else f"train.{name}"
        try:
            # allocated, not initialised: the check draws nothing from the random stream training will use
            probe = nn.Linear(1, 1, device="meta").to_empty(device=device)
            optimizer_and_scheduler(probe, cfg, epochs=1, steps_per_epoch=1, section=section)
        except UserError as e:
            found.append(e)
    return found
