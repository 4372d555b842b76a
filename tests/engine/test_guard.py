"""NonFiniteGuard: a non-finite loss skips the update exactly, fused (on the device) or not."""

from __future__ import annotations

import pytest
import torch
from timm.optim import create_optimizer_v2

from srdistill.engine.distributed import SINGLE
from srdistill.engine.guard import NonFiniteGuard

NAN = float("nan")


class Update:
    """The loop's step: check, backward, clip, guarded step; returns the 0/1 skip flag."""

    def __init__(self, model: torch.nn.Module, fused: bool) -> None:
        self.model = model
        self.optimizer = create_optimizer_v2(model, opt="adam", lr=0.1, fused=fused)
        self.guard = NonFiniteGuard(self.optimizer, SINGLE, torch.device("cpu"))
        self.on_device = self.guard.on_device
        self.read, self.new_epoch = self.guard.read, self.guard.new_epoch
        self.state_dict, self.load_state_dict = self.guard.state_dict, self.guard.load_state_dict

    def __call__(self, loss: torch.Tensor) -> torch.Tensor:
        bad = self.guard.check(loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(self.model.parameters()), 1.0)
        self.guard.step(bad)
        return bad


def setup(fused: bool) -> tuple[torch.nn.Module, Update]:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    return model, Update(model, fused)


def loss_of(model: torch.nn.Module, scale: float = 1.0) -> torch.Tensor:
    return model(torch.ones(2, 4)).pow(2).mean() * scale


@pytest.mark.parametrize("fused", [True, False])
def test_a_non_finite_loss_leaves_weights_and_optimizer_state_untouched(fused: bool) -> None:
    model, update = setup(fused)
    assert update.on_device is fused
    assert update(loss_of(model)).item() == 0  # a normal step
    weights = [p.detach().clone() for p in model.parameters()]
    state = {k: v.clone() for k, v in update.optimizer.state[model.weight].items()}
    for bad in (NAN, float("inf")):
        assert update(loss_of(model, bad)).item() == 1
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters(), strict=True))
    assert all(torch.equal(v, update.optimizer.state[model.weight][k]) for k, v in state.items())  # step count too
    assert update.read() == (2, 2, 2)
    update(loss_of(model))  # finite again: the update happens and the run of bad steps ends
    assert not torch.equal(weights[0], model.weight)
    assert update.read() == (2, 0, 2)


def test_fused_and_unfused_updates_agree() -> None:
    (a, ua), (b, ub) = setup(True), setup(False)
    for scale in (1.0, NAN, 1.0, 1.0):
        ua(loss_of(a, scale))
        ub(loss_of(b, scale))
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_counts_survive_a_snapshot_and_reset_per_epoch() -> None:
    model, update = setup(True)
    update.load_state_dict({"skipped": 3, "run": 1})
    update(loss_of(model, NAN))
    assert update.read() == (4, 2, 2)
    update.new_epoch()
    assert update.read() == (0, 2, 2)  # a run of bad steps continues across the epoch boundary
    assert update.state_dict() == {"skipped": 0, "run": 2}
