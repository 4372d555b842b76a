"""The training loop, for the student and the teacher alike: forward, backward, clip, step.

Setting up and resuming are in :mod:`srdistill.engine.setup`, the end of each epoch in
:mod:`srdistill.engine.session`; the
run folder's lock and its rules are in :mod:`srdistill.engine.lock` and
:mod:`srdistill.engine.runs`.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from rich.console import Console

from srdistill.engine import distributed
from srdistill.engine.devices import autocast, synchronize
from srdistill.engine.lock import RunLock
from srdistill.engine.runs import RunDir
from srdistill.engine.session import Training
from srdistill.engine.setup import start
from srdistill.engine.signals import StopRequests
from srdistill.errors import Stopped
from srdistill.imaging import to_unit
from srdistill.recipe.schema import Recipe
from srdistill.ui.progress import ProgressBar


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
        t = start(recipe, console, run, status, cluster)
        fit(t)
        return run.path
    finally:
        distributed.stop(cluster)
        if lock is not None:
            lock.release()
            run.remove_if_unused(created)


def fit(t: Training) -> None:
    """Train from where ``t.progress`` stands to the last epoch."""
    cfg, p, device = t.recipe.train, t.progress, t.device
    t.say(
        f"[bold]{t.recipe.name}[/]: fit {t.task.role} on {device}"
        + (f" × {t.cluster.world} processes" if t.cluster.distributed else "")
        + f", {cfg.epochs} epochs × {t.steps} steps of {cfg.batch_size}; best epoch by val {t.task.monitor} "
        f"({'max' if t.task.higher_is_better else 'min'}) → {t.run.path}"
    )
    # Nothing in a step waits for the device: the loss and the count of skipped (non-finite)
    # steps are read back every log_every steps, at snapshots and at the end of the epoch.
    with StopRequests() as stop:
        while p.epoch <= cfg.epochs:
            start_time, images = time.perf_counter(), 0
            t.model.train()
            t.task.train_mode()
            t.sampler.set_position(p.epoch, skip=p.step)
            with ProgressBar(t.console, f"epoch {p.epoch}/{cfg.epochs}", t.steps, cfg.log_every) as bar:
                for batch, labels, bad, index in t.train_loader:
                    if p.step >= t.steps:
                        break
                    if bad:
                        p.bad_files = sorted(set(p.bad_files) | set(bad))
                    hr = to_unit(batch.to(device, non_blocking=True))
                    labels = labels.to(device, non_blocking=True)
                    p.step, p.global_step, images = p.step + 1, p.global_step + 1, images + len(hr)
                    logging = p.step % cfg.log_every == 0 or p.step == t.steps
                    shown = None
                    if not distributed.any_all(len(hr) == 0, t.cluster, device):  # else: every image unreadable
                        with autocast(t.recipe.runtime, device):
                            losses = t.task.forward(t.model, hr, labels, index)  # forward
                        skipped = t.guard.check(losses["loss"])  # 1 on the device if not finite: no host read
                        t.optimizer.zero_grad(set_to_none=True)
                        losses["loss"].backward()  # backward
                        if cfg.grad_clip is not None:
                            torch.nn.utils.clip_grad_norm_(t.params, cfg.grad_clip)  # clip
                        t.guard.step(skipped)  # step; skipped on the device where the loss was not finite
                        if t.ema is not None:
                            t.ema.update(t.task.weights, p.global_step)
                        t.sums.add(losses, skipped)
                        if logging:  # reading the loss waits for the device
                            loss = float(losses["loss"].detach())
                            shown = f"loss {loss:.4g}"
                            t.board.scalars({"train/loss": loss}, p.global_step)
                            t.check_nonfinite()
                    if t.scheduler is not None:
                        t.scheduler.step_update(num_updates=p.global_step)
                    bar.update(p.step, shown)

                    stopping = stop.requested is not None
                    if t.cluster.distributed:  # the processes agree on stopping when they log (a collective read)
                        stopping = logging and distributed.any_all(stopping, t.cluster, device)
                    if stopping or t.snapshot_due():
                        t.snapshot()
                    if stopping:
                        raise Stopped(
                            f"{stop.requested or 'stopped'}: saved a snapshot at epoch {p.epoch}, step {p.step} in "
                            f"{t.run.path}; run the same command again to resume.",
                            128 + stop.signal_number,
                        )
            t.check_nonfinite()
            synchronize(device)
            t.end_epoch(start_time, time.perf_counter() - start_time, images)
    t.finish()
