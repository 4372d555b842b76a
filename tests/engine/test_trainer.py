"""The trainer: one owner for a run, its whole state behind one state_dict / load_state_dict pair."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from srdistill.engine.distributed import SINGLE
from srdistill.engine.runs import RunDir
from srdistill.engine.trainer import Trainer
from srdistill.recipe import load_recipe

QUIET = Console(file=open("/dev/null", "w"))  # noqa: SIM115


def same(a: Any, b: Any) -> bool:
    """Nested dicts and lists of tensors and numbers, equal exactly."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    return a == b


def started(recipe_path: Path, folder: Path, *overrides: str) -> Trainer:
    recipe = load_recipe(recipe_path, [f"run.dir={folder}", *overrides])
    return Trainer.start(recipe, RunDir(recipe.run_dir), "new", SINGLE, QUIET)


def test_one_network_per_single_fit_with_its_own_settings(write_recipe, tmp_path: Path) -> None:
    trainer = started(write_recipe(), tmp_path / "a", "train.grad_clip=0.5", "train.ema={decay: 0.9}")
    [student] = trainer.networks
    assert student.name == "student" and student.grad_clip == 0.5 and student.average is not None
    assert student.params == [p for p in trainer.task.networks[0].module.parameters() if p.requires_grad]


def test_the_whole_state_round_trips(write_recipe, tmp_path: Path) -> None:
    """Progress, weights, optimizer, schedule, average, guard counts and loss sums, RNG: one pair."""
    recipe = write_recipe()
    trainer = started(recipe, tmp_path / "a", "train.ema={decay: 0.9}", "train.epochs=2")
    trainer.run()
    state = trainer.state_dict()
    assert set(state) == {"progress", "networks", "rng"}
    assert set(state["networks"]["student"]) == {"weights", "optimizer", "scheduler", "average", "guard", "sums"}
    assert state["progress"]["epoch"] == 3 and state["progress"]["train_seconds"] > 0
    other = started(recipe, tmp_path / "b", "train.ema={decay: 0.9}", "train.epochs=2")
    assert not same(other.state_dict()["networks"], state["networks"])
    other.load_state_dict(state)
    again = other.state_dict()
    assert same(again["networks"], state["networks"]) and again["progress"] == state["progress"]


def test_the_summary_records_the_files_and_the_time(write_recipe, tmp_path: Path) -> None:
    import json

    trainer = started(write_recipe(), tmp_path / "a")
    trainer.run()
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["networks"] == {
        "student": {"best": str(tmp_path / "a" / "best.safetensors"), "last": str(tmp_path / "a" / "last.safetensors")}
    }
    assert summary["fit"] == "student" and summary["train_seconds"] > 0
