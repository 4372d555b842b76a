"""``srdistill train``: claim the run folder (its lock and what it holds), then let the trainer run.

The run folder's rules are in :mod:`srdistill.engine.runs` and :mod:`srdistill.engine.lock`; the
run itself in :mod:`srdistill.engine.trainer`.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from srdistill.engine import distributed
from srdistill.engine.lock import RunLock
from srdistill.engine.runs import RunDir
from srdistill.engine.trainer import Trainer
from srdistill.recipe.schema import Recipe


def train(recipe: Recipe, console: Console, *, overwrite: bool = False, resume: bool = False) -> Path:
    """Train what ``recipe.train.fit`` names; returns the run folder.

    A run folder holding an unfinished run of the same recipe is resumed from its newest
    snapshot (or started again if it stopped before the first one). Under torchrun every process
    runs this function; only the first locks the folder and writes files.
    """
    cluster = distributed.from_env()
    run = RunDir(recipe.run_dir)
    created = run.place()
    lock = RunLock(run.path) if cluster.main else None
    if lock is not None:
        lock.acquire()
        if lock.stale:
            console.print(f"[yellow]{run.path}: taking over the lock of a run that was killed ({lock.stale})[/]")
    try:
        status = run.check(recipe, overwrite, resume)
        if status == "finished":
            if cluster.main:
                console.print(f"[green]{run.path} already holds this finished run[/]; nothing to do "
                              "(--overwrite retrains).")  # fmt: skip
            return run.path
        Trainer.start(recipe, run, status, cluster, console).run()
        return run.path
    finally:
        distributed.stop(cluster)
        if lock is not None:
            lock.release()
            run.remove_if_unused(created)
