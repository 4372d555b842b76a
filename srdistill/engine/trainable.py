"""A network a run trains, with everything its updates need: optimizer, schedule, clip, weight
average, the non-finite guard and the epoch's loss sums; all of it resumable through one
``state_dict`` / ``load_state_dict`` pair."""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from srdistill.checkpoints import check_and_load
from srdistill.engine.distributed import Cluster, sum_all
from srdistill.engine.ema import Ema
from srdistill.engine.guard import NonFiniteGuard
from srdistill.engine.optim import optimizer_and_scheduler
from srdistill.engine.progress import LossSums
from srdistill.engine.tasks.base import Network
from srdistill.recipe.train import NetworkConfig


@dataclass(kw_only=True)
class Trainable:
    """One trained network and its update machinery (:class:`~srdistill.recipe.train.NetworkConfig`)."""

    network: Network
    optimizer: torch.optim.Optimizer
    scheduler: Any  # a timm scheduler, or None for a constant rate
    guard: NonFiniteGuard
    sums: LossSums
    params: list[nn.Parameter]  # the weights the step updates (and clips)
    grad_clip: float | None = None
    average: Ema | None = None

    @classmethod
    def create(
        cls, network: Network, cfg: NetworkConfig, *, epochs: int, steps_per_epoch: int, cluster: Cluster,
        device: torch.device, section: str = "train",
    ) -> Trainable:  # fmt: skip
        """``section``: where ``cfg`` sits in the recipe (for messages)."""
        module = network.module
        optimizer, scheduler = optimizer_and_scheduler(module, cfg, epochs, steps_per_epoch, section)
        return cls(
            network=network, optimizer=optimizer, scheduler=scheduler, guard=NonFiniteGuard(optimizer, cluster, device),
            sums=LossSums(device), params=[p for p in module.parameters() if p.requires_grad],
            grad_clip=cfg.grad_clip, average=Ema(module, cfg.ema) if cfg.ema is not None else None,
        )  # fmt: skip

    @property
    def name(self) -> str:
        return self.network.name

    @property
    def module(self) -> nn.Module:
        return self.network.module

    def averaged(self) -> AbstractContextManager[object]:
        """Inside the block the network holds the weights validation and ``best``/``last`` use: the average, if kept."""
        return self.average.applied(self.module) if self.average is not None else nullcontext()

    def new_epoch(self) -> None:
        """This epoch's skipped-step counts and loss sums start again."""
        self.guard.new_epoch()
        self.sums = LossSums(self.sums.device)

    def train_means(self, steps: int, cluster: Cluster) -> dict[str, float]:
        """This epoch's mean of every loss over the kept steps of every process; NaN where no step was kept
        (every step skipped: a mean of nothing, not a loss of 0)."""
        skipped, _, _ = self.guard.read()
        kept = steps - skipped  # the guard skips a step on every process alike
        sums = self.sums.state_dict()
        names = sorted(sums)
        totals = torch.tensor([sums[k] for k in names], dtype=torch.float64)
        totals = sum_all(totals.to(self.sums.device) if cluster.distributed else totals, cluster).cpu()
        if kept <= 0:
            return dict.fromkeys(names, math.nan)
        return {k: v / kept / cluster.world for k, v in zip(names, totals.tolist(), strict=True)}

    def state_dict(self) -> dict[str, Any]:
        """Raw weights, optimizer, schedule, average, skipped-step counts and loss sums."""
        return {
            "weights": {k: v.detach().cpu() for k, v in self.module.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "average": self.average.state_dict() if self.average is not None else None,
            "guard": self.guard.state_dict(),
            "sums": self.sums.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_and_load(self.module, state["weights"], f"the snapshot's {self.name} weights")
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.average is not None and state["average"] is not None:
            self.average.load_state_dict(state["average"])
        self.guard.load_state_dict(state["guard"])
        self.sums.load_state_dict(state["sums"])
