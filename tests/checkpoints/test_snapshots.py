"""Snapshots: written whole or not at all, the newest kept, read back without running code; older layouts upgraded."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from srdistill.checkpoints import save_weights
from srdistill.checkpoints.snapshots import (
    KEEP,
    OLD_WEIGHTS,
    STATE,
    load_latest,
    load_snapshot,
    rng_state,
    save_snapshot,
    set_rng_state,
    snapshots,
)
from srdistill.errors import UserError


def test_only_the_newest_are_kept_and_read_back(tmp_path: Path) -> None:
    for step in range(1, 5):
        save_snapshot(tmp_path, step, {"progress": {"global_step": step}, "networks": {}})
    kept = snapshots(tmp_path)
    assert [p.name for p in kept] == [f"step-{s:09d}" for s in range(5 - KEEP, 5)]
    path, state = load_latest(tmp_path, ["student"], lambda m: None)
    assert path == kept[-1] and state["progress"]["global_step"] == 4


def test_a_damaged_newest_snapshot_falls_back_to_the_one_before(tmp_path: Path) -> None:
    save_snapshot(tmp_path, 1, {"progress": {"global_step": 1}})
    newest = save_snapshot(tmp_path, 2, {"progress": {"global_step": 2}})
    (newest / STATE).write_bytes(b"half a file")
    said: list[str] = []
    _, state = load_latest(tmp_path, ["student"], said.append)
    assert state["progress"]["global_step"] == 1 and "cannot be read" in said[0]
    (snapshots(tmp_path)[0] / STATE).write_bytes(b"")
    with pytest.raises(UserError, match="Cannot read the training state"):
        load_latest(tmp_path, ["student"], said.append)


def test_a_state_holding_code_is_refused(tmp_path: Path) -> None:
    path = save_snapshot(tmp_path, 1, {"progress": {}})
    torch.save({"progress": {}, "evil": print}, path / STATE)  # not a plain tensor/number structure
    with pytest.raises(UserError, match="Cannot read the training state"):
        load_snapshot(path, ["student"])


def test_a_snapshot_of_the_first_layout_is_upgraded(tmp_path: Path) -> None:
    """Snapshots of srdistill 0.1 kept the one network in model.safetensors and its counters with the progress."""
    net = torch.nn.Linear(2, 3)
    folder = tmp_path / "resume" / "step-000000007"
    folder.mkdir(parents=True)
    save_weights(net, folder / OLD_WEIGHTS, {"global_step": 7})
    progress = {"epoch": 2, "step": 1, "global_step": 7, "nonfinite": 1, "nonfinite_run": 0, "sums": {"loss": 2.5}}
    old = {"progress": progress, "optimizer": {"state": {}, "param_groups": []}, "scheduler": None, "rng": rng_state(),
           "ema": {"weight": torch.ones(3, 2)}}  # fmt: skip
    torch.save(old, folder / STATE)
    state = load_snapshot(snapshots(tmp_path)[0], ["student"])
    assert set(state) == {"progress", "networks", "rng"}
    assert state["progress"] == {"epoch": 2, "step": 1, "global_step": 7}
    network = state["networks"]["student"]
    assert network["guard"] == {"skipped": 1, "run": 0} and network["sums"] == {"loss": 2.5}
    assert torch.equal(network["weights"]["weight"], net.weight.detach())
    assert torch.equal(network["average"]["weight"], torch.ones(3, 2))


def test_random_number_generators_round_trip() -> None:
    state = rng_state()
    first = (random.random(), float(np.random.rand()), float(torch.rand(())))
    set_rng_state(state)
    assert (random.random(), float(np.random.rand()), float(torch.rand(()))) == first
