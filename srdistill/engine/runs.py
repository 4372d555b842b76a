"""The run folder: resolved recipe, per-epoch metrics, checkpoints and a summary.

runs/<name>/
  recipe.yaml       the fully resolved recipe (defaults and --set overrides applied)
  metrics.csv       one row per epoch: train losses, validation values, lr, seconds
  last.safetensors  weights after the latest epoch (the average, with train.ema)
  best.safetensors  weights of the best epoch by the recipe's monitor
  last_raw.safetensors  with train.ema: the raw (not averaged) weights after the latest epoch
  <network>_best.safetensors, <network>_last.safetensors, …  the same for each further trained
                    network (a joint fit's classifier); the first network's files have no prefix
  teacher_preprocessing.json  the teacher's resize, crop, interpolation, mean and std
  bad_files.txt     images that could not be decoded and were skipped (if any)
  resume/step-N/    the newest snapshots (weights and training state) to resume from
  summary.json      written when training finishes: best epoch and its values, files, train seconds
  .lock             held while a run trains here (see srdistill.engine.lock)
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Literal

import yaml

from srdistill.checkpoints.snapshots import FOLDER as SNAPSHOT_FOLDER
from srdistill.checkpoints.snapshots import snapshots
from srdistill.engine.lock import LOCK_FILE
from srdistill.errors import UserError
from srdistill.recipe.schema import Recipe

RECIPE_FILE = "recipe.yaml"
METRICS_FILE = "metrics.csv"
SUMMARY_FILE = "summary.json"
TEACHER_FILE = "teacher_preprocessing.json"
BAD_FILES = "bad_files.txt"
BEST = "best.safetensors"
LAST = "last.safetensors"
RAW = "last_raw.safetensors"
BOARD_FOLDER = "tensorboard"
WANDB_ID_FILE = "wandb_id.txt"


#: everything a run writes into its folder besides weights files (a restart before the first snapshot
#: removes these); "wandb" is the folder W&B itself names inside the run folder
RUN_FILES = (RECIPE_FILE, METRICS_FILE, SUMMARY_FILE, TEACHER_FILE, BAD_FILES, BOARD_FOLDER, SNAPSHOT_FOLDER,
             "wandb", WANDB_ID_FILE)  # fmt: skip
_WEIGHTS_FILE = re.compile(r"([A-Za-z0-9_.\-]+_)?(best|last|last_raw)\.safetensors")


def weights_file(kind: str, network: str, first: bool) -> str:
    """The file of a trained network's ``kind`` (best, last or raw) weights: the first network's
    files are :data:`BEST`, :data:`LAST` and :data:`RAW`; a further network's carry its name."""
    name = {"best": BEST, "last": LAST, "raw": RAW}[kind]
    return name if first else f"{network}_{name}"


def written_by_a_run(name: str) -> bool:
    """Whether a run writes a folder entry of this name (a restart removes only these)."""
    return name in RUN_FILES or _WEIGHTS_FILE.fullmatch(name) is not None


Status = Literal["new", "finished", "resume", "restart"]


def resolved_yaml(recipe: Recipe) -> str:
    """The recipe with every default filled in, as YAML."""
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


class RunDir:
    """One run's folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def file(self, name: str) -> Path:
        return self.path / name

    def check(self, recipe: Recipe, overwrite: bool, resume: bool = False) -> Status:
        """Whether a run of ``recipe`` may start here; changes nothing on disk.

        ``"finished"``: the folder holds a finished run of this recipe. ``"resume"``: an unfinished
        one with a snapshot to continue from. ``"restart"``: an unfinished one stopped before its
        first snapshot, to start again. "This recipe" follows :mod:`srdistill.engine.identity`.
        Anything else in the folder is an error unless ``overwrite``; ``resume`` demands a snapshot.
        """
        p = self.path
        self.place()
        if overwrite:
            return "new"
        if not p.is_dir() or not set(os.listdir(p)) - {LOCK_FILE}:
            if resume:
                raise UserError(f"Nothing to resume in {p}.", "Drop --resume to start the run.")
            return "new"
        changed = self._changes(recipe)
        if changed:
            shown = "\n".join(f"  • {c}" for c in changed[:8]) + ("\n  • …" if len(changed) > 8 else "")
            raise UserError(
                f"Run folder {p} holds a run of a different recipe; it was left untouched. It differs in:\n{shown}",
                "Pass --overwrite to replace it, or --set run.dir=<new folder> to keep both.",
            )
        if self.file(SUMMARY_FILE).is_file():
            return "finished"
        if snapshots(p):
            return "resume"
        if resume:
            raise UserError(f"The run in {p} stopped before its first snapshot: nothing to resume.",
                            "Drop --resume: the run starts again from the beginning.")  # fmt: skip
        return "restart"

    def _changes(self, recipe: Recipe) -> list[str]:
        from srdistill.engine.identity import differences

        saved = self.file(RECIPE_FILE)
        if not saved.is_file():
            return [f"{p.name}: not written by srdistill train" for p in sorted(self.path.iterdir())
                    if p.name != LOCK_FILE][:3]  # fmt: skip
        try:
            data = yaml.safe_load(saved.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            return [f"{RECIPE_FILE}: unreadable"]
        return differences(data, recipe)

    def create(self, recipe: Recipe, status: Status) -> None:
        """Empty the folder (a new run with ``--overwrite``, or a restart) and save the resolved recipe in it."""
        p = self.path
        try:
            p.mkdir(parents=True, exist_ok=True)
            for entry in p.iterdir():
                if entry.name == LOCK_FILE or (status == "restart" and not written_by_a_run(entry.name)):
                    continue  # the lock stays held; a restart removes only what a run writes
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        except OSError as e:
            raise UserError(
                f"Cannot write to run folder {p}: {e.strerror}.", "Set run.dir to a writable folder."
            ) from None
        self.save_recipe(recipe)

    def save_recipe(self, recipe: Recipe) -> None:
        """Write the resolved recipe. A resumed run writes it again: what may change on resume (the
        logging settings, fields an upgrade added) is then recorded as the run now uses it."""
        try:
            _atomic_write(self.file(RECIPE_FILE), resolved_yaml(recipe))
        except OSError as e:
            raise UserError(
                f"Cannot write to run folder {self.path}: {e.strerror}.", "Set run.dir to a writable folder."
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
            f.flush()
            os.fsync(f.fileno())

    def keep_epochs_before(self, epoch: int) -> None:
        """Drop the metrics rows of ``epoch`` and later: a run resumed there writes them again."""
        path = self.file(METRICS_FILE)
        if not path.is_file():
            return
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows, header = list(reader), reader.fieldnames or []
        kept = [r for r in rows if int(r["epoch"]) < epoch]
        if len(kept) == len(rows):
            return
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(kept)
        _atomic_write(path, buffer.getvalue())

    def write_lines(self, name: str, lines: list[str]) -> None:
        _atomic_write(self.file(name), "".join(f"{line}\n" for line in lines))

    def write_json(self, name: str, data: dict[str, Any]) -> None:
        _atomic_write(self.file(name), json.dumps(data, indent=2) + "\n")

    def read_metrics(self) -> list[dict[str, str]]:
        with self.file(METRICS_FILE).open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    def place(self) -> Path | None:
        """Check that the folder can be one; returns the first of its folders that does not exist yet."""
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"Run folder {self.path} exists and is a file.", "Set run.dir to another path.")
        missing = None
        for folder in (self.path, *self.path.parents):
            if folder.exists():
                break
            missing = folder
        return missing

    def remove_if_unused(self, created: Path | None) -> None:
        """Remove the folder if nothing but the lock file is in it (a run that never started), and the
        empty parents made for it, up to ``created`` (what :meth:`place` returned)."""
        if created is None or not self.path.is_dir() or set(os.listdir(self.path)) - {LOCK_FILE}:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        for folder in self.path.parents:
            if not folder.is_relative_to(created) or any(folder.iterdir()):
                break
            folder.rmdir()


def _fmt(v: Any) -> Any:
    return f"{v:.6g}" if isinstance(v, float) else v


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
