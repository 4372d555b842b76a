"""The run folder: never discard earlier work silently; atomic writes; the metrics log."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from srdistill.engine.runs import RECIPE_FILE, SUMMARY_FILE, RunDir, resolved_yaml
from srdistill.errors import UserError
from srdistill.recipe.loading import validate_recipe


def start(run: RunDir, text: str, overwrite: bool = False) -> str:
    """What the trainer does: check, (build,) then create."""
    state = run.check(text, overwrite)
    if state == "new":
        run.create(text, overwrite)
    return state


def test_new_folder(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "a" / "b")
    assert run.check("name: x\n", overwrite=False) == "new"
    assert not run.path.exists()  # checking changes nothing
    run.create("name: x\n", overwrite=False)
    assert sorted(p.name for p in run.path.iterdir()) == [RECIPE_FILE]
    assert run.file(RECIPE_FILE).read_text() == "name: x\n"


def test_empty_existing_folder_is_used(tmp_path: Path) -> None:
    assert start(RunDir(tmp_path), "r") == "new"


def test_finished_run_of_the_same_recipe(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    start(run, "r")
    run.write_json(SUMMARY_FILE, {"best_epoch": 1})
    assert start(run, "r") == "finished"


def test_a_run_stopped_before_its_first_snapshot_starts_again(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    start(run, "r")  # only recipe.yaml: nothing worth keeping
    assert run.check("r", overwrite=False) == "new"


def test_unfinished_run_without_snapshot_is_refused(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    start(run, "r")
    run.log_epoch({"epoch": 1})
    with pytest.raises(UserError, match="already holds an unfinished run with no snapshot; it was left untouched"):
        run.check("r", overwrite=False)


def test_unfinished_run_with_a_snapshot_resumes(tmp_path: Path) -> None:
    from torch import nn

    from srdistill.engine.snapshots import save_snapshot

    run = RunDir(tmp_path / "run")
    start(run, "r")
    save_snapshot(run.path, 3, nn.Linear(2, 2), {"progress": {}})
    assert run.check("r", overwrite=False) == "resume"
    assert run.check("r", overwrite=False, resume=True) == "resume"
    with pytest.raises(UserError, match="a run of a different recipe"):
        run.check("other", overwrite=False)


def test_resume_without_a_run(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="Nothing to resume"):
        RunDir(tmp_path / "run").check("r", overwrite=False, resume=True)


def test_different_recipe_is_refused(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    start(run, "r1")
    run.write_json(SUMMARY_FILE, {})
    with pytest.raises(UserError, match="a run of a different recipe") as info:
        run.check("r2", overwrite=False)
    assert "--overwrite" in str(info.value)
    assert run.file(RECIPE_FILE).read_text() == "r1"


def test_foreign_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="unfinished run with no snapshot"):
        RunDir(tmp_path).check("r", overwrite=False)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_overwrite_clears_the_folder(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    start(run, "r1")
    run.file("old.txt").write_text("x")
    assert start(run, "r2", overwrite=True) == "new"
    assert sorted(p.name for p in run.path.iterdir()) == [RECIPE_FILE]
    assert run.file(RECIPE_FILE).read_text() == "r2"


def test_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "run").write_text("x")
    with pytest.raises(UserError, match="exists and is a file"):
        RunDir(tmp_path / "run").check("r", overwrite=True)


def test_unwritable_parent(tmp_path: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        if os.access(parent, os.W_OK):
            pytest.skip("running with permissions that ignore the mode bits")
        with pytest.raises(UserError, match="Cannot write to run folder"):
            RunDir(parent / "run").create("r", overwrite=False)
    finally:
        parent.chmod(0o700)


def test_metrics_log(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.log_epoch({"epoch": 1, "val_top1": 0.123456789, "note": "a"})
    run.log_epoch({"epoch": 2, "val_top1": 0.5, "note": "b"})
    assert run.file("metrics.csv").read_text().splitlines() == [
        "epoch,val_top1,note",
        "1,0.123457,a",
        "2,0.5,b",
    ]
    assert run.read_metrics() == [
        {"epoch": "1", "val_top1": "0.123457", "note": "a"},
        {"epoch": "2", "val_top1": "0.5", "note": "b"},
    ]


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
