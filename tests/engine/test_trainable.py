"""A trained network's update machinery, resumable through one state_dict pair."""

from __future__ import annotations

import copy

import torch

from srdistill.engine.distributed import SINGLE
from srdistill.engine.tasks.base import Network
from srdistill.engine.trainable import Trainable
from srdistill.recipe.train import EmaConfig, NetworkConfig
from srdistill.students.rrdb import RRDBConfig

CPU = torch.device("cpu")


def trainable(seed: int, ema: bool = True) -> Trainable:
    torch.manual_seed(seed)
    net = torch.nn.Linear(4, 2)
    cfg = NetworkConfig(grad_clip=1.0, ema=EmaConfig(decay=0.5) if ema else None)
    network = Network("student", net, "student", RRDBConfig(type="rrdb"))
    return Trainable.create(network, cfg, epochs=2, steps_per_epoch=3, cluster=SINGLE, device=CPU)


def step(t: Trainable, x: torch.Tensor, n: int) -> None:
    loss = t.module(x).square().mean()
    bad = t.guard.check(loss)
    t.optimizer.zero_grad()
    loss.backward()
    t.guard.step(bad)
    assert t.average is not None
    t.average.update(t.module, n)
    t.sums.add({"loss": loss}, bad)


def test_state_round_trips_and_training_continues_identically() -> None:
    x = torch.rand(8, 4)
    a, b = trainable(0), trainable(1)
    for n in range(1, 3):
        step(a, x, n)
    b.load_state_dict(copy.deepcopy(a.state_dict()))  # as from a snapshot: no tensor shared with a
    for n in range(3, 5):
        step(a, x, n)
        step(b, x, n)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa["weights"][k], sb["weights"][k]) for k in sa["weights"])
    assert all(torch.equal(sa["average"][k], sb["average"][k]) for k in sa["average"])
    assert sa["sums"] == sb["sums"] and sa["guard"] == sb["guard"] == {"skipped": 0, "run": 0}


def test_means_count_only_the_kept_steps_and_the_average_is_applied_in_the_block() -> None:
    t = trainable(0)
    t.sums.add({"loss": torch.tensor(2.0)}, torch.tensor(0.0))
    t.guard.check(torch.tensor(float("nan")))  # one skipped step
    assert t.train_means(steps=2, cluster=SINGLE) == {"loss": 2.0}
    step(t, torch.rand(8, 4), 1)
    raw = t.module.weight.detach().clone()
    with t.averaged():
        pass
    assert torch.equal(t.module.weight, raw)
    t.new_epoch()
    assert t.sums.state_dict() == {} and t.guard.read()[0] == 0


def test_an_epoch_whose_steps_were_all_skipped_logs_nan_not_zero() -> None:
    import math

    t = trainable(0)
    for _ in range(2):
        bad = t.guard.check(torch.tensor(float("inf")))
        t.sums.add({"loss": torch.tensor(float("inf")), "ce_sr": torch.tensor(1.0)}, bad)
    means = t.train_means(steps=2, cluster=SINGLE)
    assert set(means) == {"loss", "ce_sr"} and all(math.isnan(v) for v in means.values())
