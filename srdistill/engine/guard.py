"""Skipping the update of a step whose loss is not finite, without waiting for the device.

Deciding on the host whether a loss is finite means reading it back (``bool(loss)``), which
stalls a GPU every step while the host waits. Fused optimizers (torch's Adam, AdamW, SGD, on
CPU and CUDA) can instead take a ``found_inf`` tensor and skip the update on the device, as
they do for mixed-precision gradient scaling; the counts of skipped steps stay on the device
too, and are read only when the loop reads the loss anyway. Optimizers without a fused form
fall back to reading the flag every step.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from srdistill.engine.distributed import Cluster


class NonFiniteGuard:
    """``bad = guard.check(loss)`` before the backward pass, ``guard.step(bad)`` in place of
    ``optimizer.step()``: the update is skipped on every process if the loss is not finite on any."""

    def __init__(self, optimizer: torch.optim.Optimizer, cluster: Cluster, device: torch.device) -> None:
        self.optimizer, self.cluster = optimizer, cluster
        self.on_device = bool(optimizer.defaults.get("fused"))
        zero = torch.zeros((), device=device)
        self.skipped, self.run, self.longest_run = zero.clone(), zero.clone(), zero.clone()

    def check(self, loss: torch.Tensor) -> torch.Tensor:
        """A 0-dim float tensor, 1 where ``loss`` is not finite (on any process); counted at once."""
        bad = (~torch.isfinite(loss.detach())).float()
        if self.cluster.distributed:  # the replicas must agree; an all-reduce, no read-back
            dist.all_reduce(bad, op=dist.ReduceOp.MAX)
        self.skipped += bad
        self.run = (self.run + bad) * bad
        self.longest_run = torch.maximum(self.longest_run, self.run)
        return bad

    def step(self, bad: torch.Tensor) -> None:
        """``optimizer.step()``, skipped where ``bad``: on the device for a fused optimizer."""
        if self.on_device:
            self.optimizer.found_inf = bad  # type: ignore[attr-defined]  # read by fused optimizers
            self.optimizer.step()
        elif not bool(bad):  # no fused form: the flag has to be read here
            self.optimizer.step()

    def read(self) -> tuple[int, int, int]:
        """``(skipped, current run, longest run)`` of non-finite steps so far (waits for the device)."""
        values = torch.stack([self.skipped, self.run, self.longest_run]).tolist()
        return int(values[0]), int(values[1]), int(values[2])

    def state_dict(self) -> dict[str, int]:
        """This epoch's skipped steps and the current run of them (waits for the device)."""
        skipped, run, _ = self.read()
        return {"skipped": skipped, "run": run}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.skipped.fill_(state["skipped"])
        self.run.fill_(state["run"])
        self.longest_run.fill_(state["run"])

    def new_epoch(self) -> None:
        self.skipped.zero_()
        self.longest_run.copy_(self.run)
