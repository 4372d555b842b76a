"""The run folder: resolved recipe, per-epoch metrics, checkpoints and a summary.

runs/<name>/
  recipe.yaml       the fully resolved recipe (defaults and --set overrides applied)
  metrics.csv       one row per epoch: train losses, validation values, lr, seconds
  last.safetensors  weights after the latest epoch
  best.safetensors  weights of the best epoch by the recipe's monitor
  teacher_preprocessing.json  the teacher's resize, crop, interpolation, mean and std
  bad_files.txt     images that could not be decoded and were skipped (if any)
  resume/step-N/    the newest snapshots (weights and training state) to resume from
  summary.json      written when training finishes: best epoch and its values
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from typing import Any, Literal

import yaml

from srdistill.errors import UserError
from srdistill.recipe.schema import Recipe

RECIPE_FILE = "recipe.yaml"
METRICS_FILE = "metrics.csv"
SUMMARY_FILE = "summary.json"
TEACHER_FILE = "teacher_preprocessing.json"
BAD_FILES = "bad_files.txt"
BEST = "best.safetensors"
LAST = "last.safetensors"


def resolved_yaml(recipe: Recipe) -> str:
    """The recipe with every default filled in, as YAML."""
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


class RunDir:
    """One run's folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def file(self, name: str) -> Path:
        return self.path / name

    def check(self, recipe_text: str, overwrite: bool, resume: bool = False) -> Literal["new", "finished", "resume"]:
        """Whether a run of ``recipe_text`` may start here; changes nothing on disk.

        ``"finished"``: the folder holds a finished run of this very recipe. ``"resume"``: it
        holds an unfinished one with a snapshot to continue from. Anything else in the folder
        is an error unless ``overwrite``; ``resume`` demands something to resume.
        """
        from srdistill.engine.snapshots import snapshots

        p = self.path
        if p.exists() and not p.is_dir():
            raise UserError(f"Run folder {p} exists and is a file.", "Set run.dir to another path.")
        if overwrite:
            return "new"
        if not p.is_dir() or not any(p.iterdir()):
            if resume:
                raise UserError(f"Nothing to resume in {p}.", "Drop --resume to start the run.")
            return "new"
        saved = self.file(RECIPE_FILE)
        same = saved.is_file() and saved.read_text(encoding="utf-8") == recipe_text
        if same and self.file(SUMMARY_FILE).is_file():
            return "finished"
        if same and snapshots(p):
            return "resume"
        if same and not resume and set(os.listdir(p)) <= {RECIPE_FILE, TEACHER_FILE}:
            return "new"  # stopped before its first snapshot: nothing to keep
        what = "a run of a different recipe" if saved.is_file() and not same else "an unfinished run with no snapshot"
        raise UserError(
            f"Run folder {p} already holds {what}; it was left untouched.",
            "Pass --overwrite to replace it, or --set run.dir=<new folder> to keep both.",
        )

    def create(self, recipe_text: str, overwrite: bool) -> None:
        """Empty (with ``overwrite``) or make the folder, and save the resolved recipe in it."""
        p = self.path
        if overwrite and p.is_dir():
            shutil.rmtree(p)
        try:
            p.mkdir(parents=True, exist_ok=True)
            _atomic_write(self.file(RECIPE_FILE), recipe_text)
        except OSError as e:
            raise UserError(
                f"Cannot write to run folder {p}: {e.strerror}.", "Set run.dir to a writable folder."
            ) from None

    def log_epoch(self, row: dict[str, Any]) -> None:
        """Append one epoch's values to metrics.csv (header written with the first row)."""
        path = self.file(METRICS_FILE)
        new = not path.exists()
        with path.open("a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow({k: _fmt(v) for k, v in row.items()})

    def write_lines(self, name: str, lines: list[str]) -> None:
        _atomic_write(self.file(name), "".join(f"{line}\n" for line in lines))

    def write_json(self, name: str, data: dict[str, Any]) -> None:
        _atomic_write(self.file(name), json.dumps(data, indent=2) + "\n")

    def read_metrics(self) -> list[dict[str, str]]:
        with self.file(METRICS_FILE).open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))


def _fmt(v: Any) -> Any:
    return f"{v:.6g}" if isinstance(v, float) else v


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
