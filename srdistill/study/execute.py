"""Running a laid-out study: every run through ``srdistill train``'s entry point, then one compare per seed.

A run whose folder holds the finished run is skipped by the engine itself, and an unfinished one
resumes from its newest snapshot, so a killed study rerun with the same command continues. The study
folder records the study it holds (``study.json``); another study in that folder is refused before
anything trains.

Runs go one after another in this process (``local``, the default), or as jobs through submitit
(``submitit``): on a SLURM cluster, or in subprocesses of this machine with its local executor. Jobs
go in waves (the base classifiers, then the runs routes start from, then the routes, then the
compares), each wave's jobs at once, so a job never waits on another of its wave.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from rich.console import Console

from srdistill.checkpoints import write_json
from srdistill.errors import UserError
from srdistill.recipe.schema import Recipe
from srdistill.study.layout import COMPARE_FILE, STUDY_FILE, Layout, recorded

Dispatch = Literal["local", "submitit"]


def claim(layout: Layout) -> None:
    """Record the study in its folder, or refuse if the folder holds another study."""
    folder = layout.study.folder
    mine = json.loads(json.dumps(layout.identity()))
    saved = recorded(folder)
    if saved is not None and saved != mine:
        changed = sorted(
            k
            for k in set(saved.get("runs", {})) | set(mine["runs"])
            if saved.get("runs", {}).get(k) != mine["runs"].get(k)
        )
        what = (
            "the study recipe"
            if not changed
            else "the runs " + ", ".join(changed[:4]) + (" …" if len(changed) > 4 else "")
        )
        raise UserError(
            f"{folder} holds another study: {what} changed since it started.",
            "Rerun the unchanged study to continue it, or give the changed one another folder (dir: in the study "
            "recipe), or move this folder aside.",
        )
    if saved is None:
        write_json(folder / STUDY_FILE, mine)


def train_run(recipe: dict[str, Any]) -> str:
    """One run through the engine's entry point (skipped if finished, resumed if unfinished); a job's body.
    The recipe travels as plain data, so a job in another process validates it there."""
    from srdistill.engine.train import train
    from srdistill.recipe.loading import validate_recipe
    from srdistill.ui import console

    spec = validate_recipe(recipe, str(recipe.get("name", "run")))
    train(spec, console.err)
    return str(spec.run_dir)


def compare_seed(recipe: dict[str, Any], out: str) -> str:
    """One seed's compare through the engine's entry point, written to ``out``; a job's body."""
    from srdistill.engine.compare import compare
    from srdistill.recipe.loading import validate_recipe
    from srdistill.reporting.tables import rows_to_json
    from srdistill.ui import console

    if Path(out).is_file():
        return out
    done = compare(validate_recipe(recipe, "compare"), console.err)
    write_json(Path(out), rows_to_json(done.rows, done.judges, done.routes))
    return out


def as_data(recipe: Recipe) -> dict[str, Any]:
    return recipe.model_dump(mode="json")


def waves(layout: Layout) -> list[list[tuple[str, Callable[..., str], tuple[Any, ...]]]]:
    """The study's jobs in waves: a run's wave comes after the waves of every run it needs; the compares last."""
    level: dict[Path, int] = {}
    for runs in layout.runs.values():
        for run in runs:  # in order: a run comes after those it needs
            level[run.folder] = 1 + max((level[p] for p in run.needs), default=-1)
    out: list[list[tuple[str, Callable[..., str], tuple[Any, ...]]]] = [
        [] for _ in range(max(level.values(), default=-1) + 1)
    ]
    for runs in layout.runs.values():
        for run in runs:
            out[level[run.folder]].append((f"seed {run.seed}: {run.label}", train_run, (as_data(run.recipe),)))
    compares = [
        (f"seed {seed}: compare", compare_seed, (as_data(recipe), str(compare_path(layout, seed))))
        for seed, recipe in layout.compares.items()
    ]
    return [*out, compares]


def compare_path(layout: Layout, seed: int) -> Path:
    return layout.study.folder / f"seed{seed}" / COMPARE_FILE


def execute(layout: Layout, console: Console, dispatch: Dispatch = "local", executor: Any = None) -> None:
    """Every run and compare of the study, in order; ``executor`` is a submitit executor for ``submitit``."""
    claim(layout)
    if dispatch == "local":
        total, done = sum(len(runs) + 1 for runs in layout.runs.values()), 0
        for seed, runs in layout.runs.items():
            for run in runs:
                done += 1
                console.print(f"[bold]== seed {seed}: {run.label}[/] ({run.folder}) [{done}/{total}]")
                train_run(as_data(run.recipe))
            done += 1
            console.print(f"[bold]== seed {seed}: compare[/] [{done}/{total}]")
            compare_seed(as_data(layout.compares[seed]), str(compare_path(layout, seed)))
        return
    if executor is None:
        raise UserError("submitit dispatch needs an executor.", "Use --dispatch local, or pass a submitit executor.")
    for wave in waves(layout):
        console.print(f"[bold]== {len(wave)} job(s) through submitit:[/] {', '.join(label for label, _, _ in wave)}")
        with executor.batch():
            jobs = [executor.submit(fn, *args) for _, fn, args in wave]
        for (label, _, _), job in zip(wave, jobs, strict=True):
            try:
                job.result()
            except Exception as e:  # a job's failure, with the log it left
                raise UserError(
                    f"{label} failed in its submitit job {job.job_id}: {str(e).strip().splitlines()[-1]}",
                    f"Read the job's log in {executor.folder}; rerun the study to continue (finished runs are kept).",
                ) from None
