"""Faults during training: unreadable images are skipped and listed; non-finite losses skip the update."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file

from srdistill.engine.tasks import StudentTask


def image_recipe(make_recipe, folder: Path, tree: Path) -> Path:
    recipe: dict[str, Any] = make_recipe(folder)
    recipe["data"] = {"type": "image_folder", "root": str(tree), "test_dir": "val", "hr_size": 28, "channels": 3}
    recipe["teacher"] |= {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    recipe["train"] |= {"batch_size": 4, "max_steps_per_epoch": None, "val_batch_size": 4}
    recipe["compare"]["batch_size"] = 4
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@pytest.fixture
def tree_with_bad_files(tmp_path: Path, image_tree: Path) -> tuple[Path, set[str]]:
    tree = tmp_path / "tree"
    shutil.copytree(image_tree, tree)
    good = next((tree / "val" / "cat").glob("*.JPEG"))
    bad = {
        tree / "val" / "cat" / "truncated.JPEG": good.read_bytes()[: good.stat().st_size // 2],
        tree / "val" / "dog" / "not-an-image.jpg": b"this is text, not a JPEG",
        tree / "val" / "fox" / "empty.png": b"",
    }
    for path, data in bad.items():
        path.write_bytes(data)
    return tree, {str(p) for p in bad}


def test_unreadable_images_are_skipped_counted_and_listed(cli, make_recipe, tmp_path, tree_with_bad_files) -> None:
    tree, bad = tree_with_bad_files
    recipe = image_recipe(make_recipe, tmp_path, tree)
    result = cli("train", recipe)
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "tiny"
    listed = set((run / "bad_files.txt").read_text().splitlines())
    assert listed == bad  # the validation split is read whole, so every bad file is met
    assert json.loads((run / "summary.json").read_text())["bad_files"] == 3
    assert "3 unreadable images were skipped" in result.output
    with (run / "metrics.csv").open() as f:
        assert next(csv.DictReader(f))["bad_files"] == "3"


def test_compare_skips_unreadable_images_too(cli, make_recipe, tmp_path, tree_with_bad_files) -> None:
    tree, _ = tree_with_bad_files
    recipe = image_recipe(make_recipe, tmp_path, tree)
    result = cli("compare", recipe, "--json", tmp_path / "t.json")
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "t.json").read_text())["rows"]
    assert all(0 <= r["top1"] <= 1 for r in rows)


def nan_on(steps: set[int]):
    """A StudentTask.forward that returns NaN on the given calls (counted from 1)."""
    original = StudentTask.forward
    calls = {"n": 0}

    def forward(self, batch, network):  # type: ignore[no-untyped-def]
        out = original(self, batch, network)
        calls["n"] += 1
        if calls["n"] in steps:
            out["loss"] = out["loss"] * float("nan")
        return out

    return forward


def test_a_non_finite_loss_skips_the_update(cli, write_recipe, tmp_path, monkeypatch) -> None:
    recipe = write_recipe(train={
        "epochs": 1, "batch_size": 16, "max_steps_per_epoch": 4, "val_batch_size": 64, "log_every": 1,
        "optimizer": {"name": "adam", "lr": 1e-3}, "scheduler": {"name": "none"},
    })  # fmt: skip
    monkeypatch.setattr(StudentTask, "forward", nan_on({2, 3}))
    result = cli("train", recipe)
    assert result.exit_code == 0, result.output
    assert result.output.count("loss is not finite; update skipped") == 2
    run = tmp_path / "runs" / "tiny"
    with (run / "metrics.csv").open() as f:
        row = next(csv.DictReader(f))
    assert row["nonfinite_steps"] == "2"
    assert all(torch.isfinite(t).all() for t in load_file(str(run / "last.safetensors")).values())


def test_too_many_non_finite_losses_in_a_row_stop_the_run_keeping_good_checkpoints(
    cli, write_recipe, tmp_path, monkeypatch, flatten
) -> None:
    recipe = write_recipe(train={
        "epochs": 2, "batch_size": 16, "max_steps_per_epoch": 3, "val_batch_size": 64, "max_nonfinite_steps": 2,
        "optimizer": {"name": "adam", "lr": 1e-3},
    })  # fmt: skip
    monkeypatch.setattr(StudentTask, "forward", nan_on({4, 5, 6}))  # all of epoch 2
    result = cli("train", recipe)
    assert result.exit_code == 1
    text = flatten(result.stderr)
    # read back at the end of epoch 2 (no step waits for the device): all 3 steps were skipped
    assert "3 training steps in a row gave a non-finite loss" in text and "Traceback" not in result.output
    run = tmp_path / "runs" / "tiny"
    best = load_file(str(run / "best.safetensors"))  # epoch 1's weights, intact and loadable
    assert all(torch.isfinite(t).all() for t in best.values())
    assert not (run / "summary.json").exists()
