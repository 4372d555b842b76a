"""The run folder: never discard earlier work silently; atomic writes; the metrics log."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from srdistill.engine.runs import METRICS_FILE, RECIPE_FILE, SUMMARY_FILE, RunDir, resolved_yaml
from srdistill.errors import UserError
from srdistill.recipe.loading import validate_recipe
from srdistill.recipe.schema import Recipe


@pytest.fixture
def recipe(make_recipe, tmp_path: Path) -> Recipe:
    return validate_recipe(make_recipe(tmp_path))


def other(recipe: Recipe) -> Recipe:
    """``recipe`` with one setting changed."""
    raw = recipe.model_dump(mode="json")
    raw["train"]["epochs"] += 1
    return validate_recipe(raw)


def start(run: RunDir, recipe: Recipe, overwrite: bool = False) -> str:
    """What the trainer does: check, (build,) then create."""
    state = run.check(recipe, overwrite)
    if state in ("new", "restart"):
        run.create(recipe, state)
    return state


def test_new_folder(tmp_path: Path, recipe: Recipe) -> None:
    run = RunDir(tmp_path / "a" / "b")
    assert run.check(recipe, overwrite=False) == "new"
    assert not run.path.exists()  # checking changes nothing
    run.create(recipe, "new")
    assert sorted(p.name for p in run.path.iterdir()) == [RECIPE_FILE]
    assert run.file(RECIPE_FILE).read_text() == resolved_yaml(recipe)


def test_empty_existing_folder_is_used(tmp_path: Path, recipe: Recipe) -> None:
    assert start(RunDir(tmp_path / "empty"), recipe) == "new"


def test_finished_run_of_the_same_recipe(tmp_path: Path, recipe: Recipe) -> None:
    run = RunDir(tmp_path / "run")
    start(run, recipe)
    run.write_json(SUMMARY_FILE, {"best_epoch": 1})
    assert start(run, recipe) == "finished"


def test_a_run_stopped_before_its_first_snapshot_starts_again(tmp_path: Path, recipe: Recipe) -> None:
    """Whatever it wrote (an epoch's row, weights, TensorBoard events) goes; files of the user's stay."""
    run = RunDir(tmp_path / "run")
    start(run, recipe)
    run.log_epoch({"epoch": 1})
    run.file("tensorboard").mkdir()
    run.file("last.safetensors").write_text("x")
    run.file("my_notes.txt").write_text("mine")
    assert start(run, recipe) == "restart"
    assert sorted(p.name for p in run.path.iterdir()) == ["my_notes.txt", RECIPE_FILE]
    with pytest.raises(UserError, match="stopped before its first snapshot"):
        run.check(recipe, overwrite=False, resume=True)


def test_unfinished_run_with_a_snapshot_resumes(tmp_path: Path, recipe: Recipe) -> None:
    from srdistill.checkpoints.snapshots import save_snapshot

    run = RunDir(tmp_path / "run")
    start(run, recipe)
    save_snapshot(run.path, 3, {"progress": {}})
    assert run.check(recipe, overwrite=False) == "resume"
    assert run.check(recipe, overwrite=False, resume=True) == "resume"
    with pytest.raises(UserError, match="a run of a different recipe"):
        run.check(other(recipe), overwrite=False)


def test_resume_without_a_run(tmp_path: Path, recipe: Recipe) -> None:
    with pytest.raises(UserError, match="Nothing to resume"):
        RunDir(tmp_path / "run").check(recipe, overwrite=False, resume=True)


def test_different_recipe_is_refused_and_the_difference_named(tmp_path: Path, recipe: Recipe) -> None:
    run = RunDir(tmp_path / "run")
    start(run, recipe)
    run.write_json(SUMMARY_FILE, {})
    with pytest.raises(UserError, match="a run of a different recipe") as info:
        run.check(other(recipe), overwrite=False)
    text = str(info.value)
    assert "--overwrite" in text and "train.epochs: 1 → 2" in text
    assert run.file(RECIPE_FILE).read_text() == resolved_yaml(recipe)


def test_foreign_files_are_refused(tmp_path: Path, recipe: Recipe) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="a run of a different recipe") as info:
        RunDir(tmp_path).check(recipe, overwrite=False)
    assert "notes.txt: not written by srdistill train" in str(info.value)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_overwrite_clears_the_folder(tmp_path: Path, recipe: Recipe) -> None:
    run = RunDir(tmp_path / "run")
    start(run, recipe)
    run.file("old.txt").write_text("x")
    assert start(run, other(recipe), overwrite=True) == "new"
    assert sorted(p.name for p in run.path.iterdir()) == [RECIPE_FILE]
    assert run.file(RECIPE_FILE).read_text() == resolved_yaml(other(recipe))


def test_a_file_in_the_way(tmp_path: Path, recipe: Recipe) -> None:
    (tmp_path / "run").write_text("x")
    with pytest.raises(UserError, match="exists and is a file"):
        RunDir(tmp_path / "run").check(recipe, overwrite=True)


def test_unwritable_parent(tmp_path: Path, recipe: Recipe) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        if os.access(parent, os.W_OK):
            pytest.skip("running with permissions that ignore the mode bits")
        with pytest.raises(UserError, match="Cannot write to run folder"):
            RunDir(parent / "run").create(recipe, "new")
    finally:
        parent.chmod(0o700)


def test_metrics_log(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.log_epoch({"epoch": 1, "val_top1": 0.123456789, "note": "a"})
    run.log_epoch({"epoch": 2, "val_top1": 0.5, "note": "b"})
    assert run.file(METRICS_FILE).read_text().splitlines() == [
        "epoch,val_top1,note",
        "1,0.123457,a",
        "2,0.5,b",
    ]
    assert run.read_metrics() == [
        {"epoch": "1", "val_top1": "0.123457", "note": "a"},
        {"epoch": "2", "val_top1": "0.5", "note": "b"},
    ]


def test_rows_after_a_snapshot_are_dropped_on_resume(tmp_path: Path) -> None:
    """A run killed between an epoch's row and its snapshot writes that row again after resuming."""
    run = RunDir(tmp_path)
    for epoch in (1, 2, 3):
        run.log_epoch({"epoch": epoch, "v": epoch / 10})
    run.keep_epochs_before(2)
    assert [r["epoch"] for r in run.read_metrics()] == ["1"]
    run.log_epoch({"epoch": 2, "v": 0.2})
    assert [r["epoch"] for r in run.read_metrics()] == ["1", "2"]
    before = run.file(METRICS_FILE).read_bytes()
    run.keep_epochs_before(3)  # nothing to drop: the file is not rewritten
    assert run.file(METRICS_FILE).read_bytes() == before


def test_write_json_is_atomic(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.write_json("summary.json", {"a": 1})
    run.write_json("summary.json", {"a": 2})
    assert json.loads(run.file("summary.json").read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_resolved_yaml_round_trips(write_recipe) -> None:
    raw = yaml.safe_load(write_recipe().read_text())
    recipe = validate_recipe(raw)
    text = resolved_yaml(recipe)
    again = validate_recipe(yaml.safe_load(text))
    assert again.model_dump() == recipe.model_dump()
    assert resolved_yaml(again) == text
    assert "num_grow_ch: 4" in text and "antialias: true" in text  # defaults written out
