"""A run being trained: its snapshots, the end of each epoch (validate, keep the best, log) and the finish.

:mod:`srdistill.engine.setup` makes a :class:`Training`; the loop itself is in :mod:`srdistill.engine.trainer`.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from rich.console import Console
from torch import nn
from torch.utils.data import DataLoader

from srdistill.checkpoints import component_metadata, save_weights
from srdistill.engine import distributed, snapshots
from srdistill.engine.board import Board
from srdistill.engine.build import Parts
from srdistill.engine.distributed import Cluster
from srdistill.engine.ema import Ema
from srdistill.engine.guard import NonFiniteGuard
from srdistill.engine.progress import LossSums, Progress
from srdistill.engine.runs import BAD_FILES, BEST, LAST, SUMMARY_FILE, RunDir
from srdistill.engine.sampling import EpochBatches
from srdistill.engine.tasks import StudentFit, Task
from srdistill.errors import UserError
from srdistill.recipe.schema import Recipe


@dataclass
class Training:
    """A run being trained: its parts, its optimizer and where it stands (:class:`Progress`)."""

    recipe: Recipe
    cluster: Cluster
    console: Console | None  # None on every process but the first
    run: RunDir
    parts: Parts
    task: Task
    model: nn.Module  # the trained module, wrapped for several processes
    params: list[nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    guard: NonFiniteGuard
    train_loader: DataLoader
    val_loader: DataLoader
    steps: int  # per epoch
    progress: Progress
    sums: LossSums
    board: Board
    preview: torch.Tensor | None = None
    ema: Ema | None = None
    reported: int = 0  # skipped steps already reported
    last_snapshot: float = field(default_factory=time.monotonic)

    @property
    def device(self) -> torch.device:
        return self.parts.device

    @property
    def sampler(self) -> EpochBatches:
        return self.train_loader.batch_sampler  # type: ignore[return-value]

    def say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text)

    # -- during an epoch ---------------------------------------------------------------------------

    def check_nonfinite(self) -> None:
        """Report newly skipped steps; stop after too many in a row (reads the counts: waits for the device)."""
        skipped, _, longest = self.guard.read()
        if skipped > self.reported:
            n = skipped - self.reported
            what = "loss is not finite; update skipped" if n == 1 else f"{n} losses were not finite; updates skipped"
            self.say(f"[yellow]step {self.progress.global_step}: {what}[/]")
            self.reported = skipped
        if longest >= self.recipe.train.max_nonfinite_steps:
            p = self.progress
            raise UserError(
                f"{longest} training steps in a row gave a non-finite loss; stopped at epoch {p.epoch}, "
                f"step {p.step}. The last good checkpoints in {self.run.path} are intact.",
                "Lower train.optimizer.lr or set train.grad_clip, then --overwrite.",
            )

    def snapshot(self) -> None:
        """Save everything needed to continue from here (first process only)."""
        self.check_nonfinite()
        self.last_snapshot = time.monotonic()
        if not self.cluster.main:
            return
        p = self.progress
        p.nonfinite, p.nonfinite_run, _ = self.guard.read()
        p.sums = self.sums.floats()
        state = {
            "progress": p.to_state(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": snapshots.rng_state(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
        }
        snapshots.save_snapshot(self.run.path, p.global_step, self.task.weights, state)

    def snapshot_due(self) -> bool:
        cfg, step = self.recipe.train, self.progress.global_step
        every = cfg.checkpoint_every and step % cfg.checkpoint_every == 0
        return bool(every) or bool(
            cfg.checkpoint_minutes and time.monotonic() - self.last_snapshot > 60 * cfg.checkpoint_minutes
        )

    # -- end of an epoch ---------------------------------------------------------------------------

    def end_epoch(self, started: float, train_seconds: float, images: int) -> None:
        """Validate, keep the last and the best weights, log the epoch, and snapshot the start of the next."""
        p, cluster = self.progress, self.cluster
        if self.scheduler is not None:
            self.scheduler.step(p.epoch)
        p.nonfinite, p.nonfinite_run, _ = self.guard.read()
        done = max(1, p.step - p.nonfinite)
        sums = self.sums.floats()
        names = sorted(sums)
        totals = torch.tensor([sums[k] for k in names], dtype=torch.float64)
        totals = distributed.sum_all(totals.to(self.device) if cluster.distributed else totals, cluster).cpu()
        train = {f"train_{k}": v / done / cluster.world for k, v in zip(names, totals.tolist(), strict=True)}
        bad = set(p.bad_files)
        with self.ema.applied(self.task.weights) if self.ema is not None else nullcontext():
            val = self.task.validate(self.val_loader, self.console, cluster, bad)
            p.bad_files = sorted(bad)
            value = val[self.task.monitor]
            improved = p.improves(value, self.task.higher_is_better)
            seconds = time.perf_counter() - started
            if cluster.main:
                self._save_epoch(value, improved, train, val, seconds, train_seconds, images)
        if improved:
            p.best_value, p.best_epoch = value, p.epoch
        shown = "  ".join(f"{k} {v:.4g}" for k, v in val.items())
        mark = " [green]★ best[/]" if improved else ""
        self.say(
            f"epoch {p.epoch}: train loss {train.get('train_loss', math.nan):.4g}  val {shown}  ({seconds:.0f}s){mark}"
        )
        p.next_epoch()
        self.sums = LossSums({}, self.device)
        self.guard.new_epoch()
        self.reported = 0
        self.snapshot()

    def _save_epoch(self, value: float, improved: bool, train: dict[str, float], val: dict[str, float],
                    seconds: float, train_seconds: float, images: int) -> None:  # fmt: skip
        p, run = self.progress, self.run
        meta = component_metadata(
            self.task.role, self.task.config, recipe=self.recipe.name, epoch=p.epoch, monitor=self.task.monitor,
            value=value, channels=self.parts.data.info.channels,
        )  # fmt: skip
        save_weights(self.task.weights, run.file(LAST), meta)
        if improved:
            save_weights(self.task.weights, run.file(BEST), meta)
        row: dict[str, Any] = {"epoch": p.epoch, "step": p.global_step, "lr": self.optimizer.param_groups[0]["lr"]}
        row |= train | {f"val_{k}": v for k, v in val.items()}
        row |= {"nonfinite_steps": p.nonfinite, "bad_files": len(p.bad_files), "seconds": round(seconds, 2)}
        row["train_images_per_s"] = float(f"{images * self.cluster.world / max(train_seconds, 1e-9):.4g}")
        run.log_epoch(row)
        self.board.scalars({k: v for k, v in row.items() if isinstance(v, float)}, p.global_step, "epoch/")
        if self.preview is not None and isinstance(self.task, StudentFit):
            self.board.image("reconstructions", self.task.preview(self.preview), p.global_step)
        if p.bad_files:
            run.write_lines(BAD_FILES, p.bad_files)

    def finish(self) -> None:
        p, monitor = self.progress, self.task.monitor
        self.board.close()
        if p.best_value is None:
            raise UserError(
                f"No epoch gave a finite validation {monitor}: training diverged. last.safetensors is kept.",
                "Lower train.optimizer.lr or set train.grad_clip, then rerun with --overwrite.",
            )
        if self.cluster.main:
            snapshots.remove_all(self.run.path)  # finished: best/last.safetensors are what is kept
            self.run.write_json(SUMMARY_FILE, {
                "recipe": self.recipe.name, "fit": self.task.role, "monitor": monitor, "best_epoch": p.best_epoch,
                "best_value": p.best_value, "best": str(self.run.file(BEST)), "last": str(self.run.file(LAST)),
                "epochs": self.recipe.train.epochs, "bad_files": len(p.bad_files),
            })  # fmt: skip
        if p.bad_files:
            self.say(f"[yellow]{len(p.bad_files)} unreadable images were skipped[/]; see {self.run.file(BAD_FILES)}")
        self.say(
            f"[bold green]done[/]: best epoch {p.best_epoch} (val {monitor} {p.best_value:.4g}) → {self.run.file(BEST)}"
        )
