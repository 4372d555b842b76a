"""Progress is a value: it round-trips through a snapshot's state file as it is."""

from __future__ import annotations

from pathlib import Path

import torch

from srdistill.engine.progress import LossSums, Progress


def test_progress_round_trips_through_a_weights_only_state_file(tmp_path: Path) -> None:
    p = Progress(epoch=3, step=7, global_step=27, best_value=0.25, best_epoch=2, bad_files=["a.jpg"],
                 train_seconds=12.5)  # fmt: skip
    torch.save({"progress": p.state_dict()}, tmp_path / "state.pt")
    again = Progress()
    again.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True)["progress"])
    assert again == p


def test_an_older_snapshot_without_newer_fields_still_loads() -> None:
    p = Progress()
    p.load_state_dict({"epoch": 2, "step": 1, "global_step": 5, "retired": 1})
    assert p == Progress(2, 1, 5)


def test_next_epoch_keeps_the_record_and_clears_the_epoch() -> None:
    p = Progress(epoch=1, step=4, global_step=4, best_value=0.5, best_epoch=1, train_seconds=3.0)
    p.next_epoch()
    assert (p.epoch, p.step, p.global_step, p.train_seconds) == (2, 0, 4, 3.0)
    assert (p.best_value, p.best_epoch) == (0.5, 1)


def test_improvement_ignores_non_finite_values() -> None:
    p = Progress(best_value=1.0)
    assert p.improves(0.5, higher_is_better=False) and not p.improves(2.0, higher_is_better=False)
    assert not p.improves(float("nan"), higher_is_better=True) and not p.improves(float("inf"), True)
    assert Progress().improves(-3.0, higher_is_better=True)


def test_loss_sums_skip_flagged_steps_and_round_trip() -> None:
    sums = LossSums(torch.device("cpu"))
    sums.load_state_dict({"loss": 1.0})
    sums.add({"loss": torch.tensor(2.0)}, torch.tensor(0.0))
    sums.add({"loss": torch.tensor(float("nan"))}, torch.tensor(1.0))  # a skipped step adds nothing
    assert sums.state_dict() == {"loss": 3.0}
