"""The optimizer and schedule, both from timm: fused where possible, the schedule stepped per update."""

from __future__ import annotations

import pytest
import torch

from srdistill.engine.optim import optimizer_and_scheduler
from srdistill.errors import UserError
from srdistill.recipe.train import NetworkConfig, OptimizerConfig, SchedulerConfig


def test_fused_where_the_optimizer_has_it_and_a_clear_error_where_asked_for_and_missing() -> None:
    net = torch.nn.Linear(2, 2)
    optimizer, scheduler = optimizer_and_scheduler(net, NetworkConfig(), epochs=2, steps_per_epoch=5)
    assert optimizer.defaults.get("fused") and scheduler is not None
    lamb = NetworkConfig(optimizer=OptimizerConfig(name="lamb", fused=True))
    with pytest.raises(UserError, match=r"train\.classifier\.optimizer\.fused is true"):
        optimizer_and_scheduler(net, lamb, 2, 5, section="train.classifier")


def test_the_schedule_steps_per_update() -> None:
    net = torch.nn.Linear(2, 2)
    cfg = NetworkConfig(optimizer=OptimizerConfig(lr=1.0), scheduler=SchedulerConfig(name="cosine", min_lr=0.0))
    optimizer, scheduler = optimizer_and_scheduler(net, cfg, epochs=1, steps_per_epoch=10)
    scheduler.step_update(num_updates=5)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5, abs=0.05)  # half-way down the cosine
    _, constant = optimizer_and_scheduler(net, NetworkConfig(scheduler=SchedulerConfig(name="none")), 1, 10)
    assert constant is None


def test_checking_the_optimizers_draws_nothing_from_the_random_stream() -> None:
    """--dry-run's check runs inside build(): a draw there would change every run's training."""
    from srdistill.engine.optim import check_optimizers

    torch.manual_seed(0)
    before = torch.get_rng_state()
    assert check_optimizers({"student": NetworkConfig()}, torch.device("cpu")) == []
    assert torch.equal(torch.get_rng_state(), before)
