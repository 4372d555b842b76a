"""The trainer: one owner for a run from start to finish.

:meth:`Trainer.start` builds every part and starts the run or puts it back where its newest
snapshot left it; :meth:`Trainer.run` is the loop (forward, backward, clip, step for each trained
network in turn); :meth:`Trainer.end_epoch` validates and keeps the best; :meth:`Trainer.finish`
writes the summary. Everything a snapshot holds comes from :meth:`Trainer.state_dict` and goes
back through :meth:`Trainer.load_state_dict`.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import torch
from rich.console import Console
from torch.utils.data import DataLoader

from srdistill.checkpoints import snapshots
from srdistill.engine import distributed, records
from srdistill.engine.board import Board
from srdistill.engine.build import build
from srdistill.engine.devices import autocast, synchronize
from srdistill.engine.distributed import Cluster
from srdistill.engine.loaders import make_loader
from srdistill.engine.progress import Progress
from srdistill.engine.runs import BAD_FILES, BEST, TEACHER_FILE, RunDir, Status
from srdistill.engine.signals import StopRequests
from srdistill.engine.tasks import Task, TrainBatch, make_task
from srdistill.engine.trainable import Trainable
from srdistill.errors import Stopped, UserError
from srdistill.imaging import to_unit
from srdistill.recipe.schema import Recipe
from srdistill.ui.progress import ProgressBar


@dataclass(kw_only=True)
class Trainer:
    """A run: its task, the networks it trains, its data and where it stands."""

    recipe: Recipe
    folder: RunDir  # the run folder
    cluster: Cluster
    console: Console | None  # None on every process but the first
    task: Task
    networks: list[Trainable]  # in the order of their updates within a step
    train_loader: DataLoader
    val_loader: DataLoader
    steps: int  # per epoch
    channels: int  # of the data set's images (recorded with the weights)
    progress: Progress = field(default_factory=Progress)
    board: Board | None = None  # opened by run()
    reported: dict[str, int] = field(default_factory=dict)  # skipped steps already reported, per network
    last_snapshot: float = field(default_factory=time.monotonic)

    @classmethod
    def start(cls, recipe: Recipe, run: RunDir, status: Status, cluster: Cluster, console: Console) -> Trainer:
        """Build every part (nothing is written before that succeeds), then start the run or resume it."""
        cfg = recipe.train
        parts = build(recipe, "train", distributed.start(cluster, recipe.device))
        task = make_task(recipe, parts)
        device = parts.device
        for warning in parts.warnings if cluster.main else []:
            console.print(f"[yellow]warning:[/] {warning}", highlight=False)
        batch = distributed.per_process_batch(cfg.batch_size, cluster)
        train_loader = make_loader(parts.data.train, batch, device=device, shuffle=True, seed=recipe.seed,
                                   num_workers=cfg.num_workers, cluster=cluster, with_index=True)  # fmt: skip
        val_loader = make_loader(parts.data.val, cfg.val_batch_size, device=device, num_workers=cfg.num_workers,
                                 cluster=cluster)  # fmt: skip
        total = train_loader.batch_sampler.batches()  # type: ignore[union-attr]
        steps = min(cfg.max_steps_per_epoch or total, total)
        if steps == 0:
            raise UserError(
                f"The training split ({len(parts.data.train)} images) holds less than one batch of {cfg.batch_size}.",
                "Lower train.batch_size or use more training images.",
            )
        settings = cfg.networks()
        networks = [
            Trainable.create(net, settings[net.name], epochs=cfg.epochs, steps_per_epoch=steps, cluster=cluster,
                             device=device, section="train" if len(settings) == 1 else f"train.{net.name}")
            for net in task.networks
        ]  # fmt: skip
        task.wrap(cluster, device)
        trainer = cls(recipe=recipe, folder=run, cluster=cluster, console=console if cluster.main else None, task=task,
                      networks=networks, train_loader=train_loader, val_loader=val_loader, steps=steps,
                      channels=parts.data.info.channels)  # fmt: skip
        if status == "resume":
            names = [n.name for n in networks]
            latest, state = snapshots.load_latest(run.path, names, lambda m: console.print(f"[yellow]{m}[/]"))
            trainer.load_state_dict(state)
            p = trainer.progress
            if cluster.main:
                run.keep_epochs_before(p.epoch)  # rows written after this snapshot are written again
                run.save_recipe(recipe)
            trainer.say(f"[bold]resuming[/] {run.path} at epoch {p.epoch}, step {p.step} ({latest.name})")
        elif cluster.main:
            run.create(recipe, status)
            run.write_json(TEACHER_FILE, parts.teacher.preprocessing())
        return trainer

    # -- what a snapshot holds -----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Progress, every trained network's state, and the random-number generators."""
        return {
            "progress": self.progress.state_dict(),
            "networks": {n.name: n.state_dict() for n in self.networks},
            "rng": snapshots.rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.progress.load_state_dict(state["progress"])
        for network in self.networks:
            network.load_state_dict(state["networks"][network.name])
        snapshots.set_rng_state(state["rng"])
        self.reported = {n.name: n.guard.read()[0] for n in self.networks}

    # -- the loop -------------------------------------------------------------------------------------

    def run(self) -> None:
        """Train from where :attr:`progress` stands to the last epoch, then finish."""
        cfg, p, device = self.recipe.train, self.progress, self.task.device
        trained = "" if len(self.networks) == 1 else f" ({', '.join(n.name for n in self.networks)})"
        self.say(
            f"[bold]{self.recipe.name}[/]: fit {self.task.fit}{trained} on {device}"
            + (f" × {self.cluster.world} processes" if self.cluster.distributed else "")
            + f", {cfg.epochs} epochs × {self.steps} steps of {cfg.batch_size}; best epoch by val {self.task.monitor} "
            f"({'max' if self.task.higher_is_better else 'min'}) → {self.folder.path}"
        )
        self.board = records.open_board(self.folder, self.recipe, self.cluster.main, p.global_step)
        preview = records.preview_batch(self.val_loader.dataset, device) if self.task.previews else None
        # Nothing in a step waits for the device: losses and counts of skipped (non-finite) steps
        # are read back every log_every steps, at snapshots and at the end of the epoch.
        with StopRequests() as stop:
            while p.epoch <= cfg.epochs:
                start_time, images = time.perf_counter(), 0
                self.task.train_mode()
                self.train_loader.batch_sampler.set_position(p.epoch, skip=p.step)  # type: ignore[union-attr]
                with ProgressBar(self.console, f"epoch {p.epoch}/{cfg.epochs}", self.steps, cfg.log_every) as bar:
                    for images_u8, labels, bad, index in self.train_loader:
                        if p.step >= self.steps:
                            break
                        if bad:
                            p.bad_files = sorted(set(p.bad_files) | set(bad))
                        batch = TrainBatch(to_unit(images_u8.to(device, non_blocking=True)),
                                           labels.to(device, non_blocking=True), index, p.epoch)  # fmt: skip
                        p.step, p.global_step, images = p.step + 1, p.global_step + 1, images + len(batch.hr)
                        logging = p.step % cfg.log_every == 0 or p.step == self.steps
                        shown = []
                        if not distributed.any_all(len(batch.hr) == 0, self.cluster, device):  # else: all unreadable
                            for net in self.networks:  # one update per trained network, in order
                                with autocast(self.recipe.runtime, device):
                                    losses = self.task.forward(batch, net.name)  # forward
                                skipped = net.guard.check(losses["loss"])  # 1 on the device if not finite
                                net.optimizer.zero_grad(set_to_none=True)
                                losses["loss"].backward()  # backward
                                if net.grad_clip is not None:
                                    torch.nn.utils.clip_grad_norm_(net.params, net.grad_clip)  # clip
                                net.guard.step(skipped)  # step; skipped on the device where the loss was not finite
                                if net.average is not None:
                                    net.average.update(net.module, p.global_step)
                                net.sums.add(losses, skipped)
                                if logging:  # reading the loss waits for the device
                                    shown.append(self._log_loss(net, float(losses["loss"].detach())))
                            if logging:
                                self.check_nonfinite()
                        for net in self.networks:
                            if net.scheduler is not None:
                                net.scheduler.step_update(num_updates=p.global_step)
                        bar.update(p.step, "  ".join(shown) or None)

                        stopping = stop.requested is not None
                        if self.cluster.distributed:  # the processes agree on stopping when they log (collective)
                            stopping = logging and distributed.any_all(stopping, self.cluster, device)
                        if stopping or self.snapshot_due():
                            self.snapshot()
                        if stopping:
                            raise Stopped(
                                f"{stop.requested or 'stopped'}: saved a snapshot at epoch {p.epoch}, step {p.step} "
                                f"in {self.folder.path}; run the same command again to resume.",
                                128 + stop.signal_number,
                            )
                self.check_nonfinite()
                synchronize(device)
                self.end_epoch(start_time, time.perf_counter() - start_time, images, preview)
        self.finish()

    def _log_loss(self, net: Trainable, loss: float) -> str:
        one = len(self.networks) == 1
        assert self.board is not None
        self.board.scalars({"train/loss" if one else f"train/{net.name}_loss": loss}, self.progress.global_step)
        return f"loss {loss:.4g}" if one else f"{net.name} loss {loss:.4g}"

    # -- snapshots ------------------------------------------------------------------------------------

    def snapshot(self) -> None:
        """Save everything needed to continue from here (first process only)."""
        self.check_nonfinite()
        self.last_snapshot = time.monotonic()
        if self.cluster.main:
            snapshots.save_snapshot(self.folder.path, self.progress.global_step, self.state_dict())

    def snapshot_due(self) -> bool:
        cfg, step = self.recipe.train, self.progress.global_step
        every = cfg.checkpoint_every and step % cfg.checkpoint_every == 0
        return bool(every) or bool(
            cfg.checkpoint_minutes and time.monotonic() - self.last_snapshot > 60 * cfg.checkpoint_minutes
        )

    def check_nonfinite(self) -> None:
        """Report newly skipped steps; stop after too many in a row (reads the counts: waits for the device)."""
        for net in self.networks:
            skipped, _, longest = net.guard.read()
            new = skipped - self.reported.get(net.name, 0)
            if new > 0:
                what = (
                    "loss is not finite; update skipped"
                    if new == 1
                    else f"{new} losses were not finite; updates skipped"
                )
                who = "" if len(self.networks) == 1 else f" ({net.name})"
                self.say(f"[yellow]step {self.progress.global_step}{who}: {what}[/]")
                self.reported[net.name] = skipped
            if longest >= self.recipe.train.max_nonfinite_steps:
                p, where = self.progress, "train" if len(self.networks) == 1 else f"train.{net.name}"
                raise UserError(
                    f"{longest} training steps in a row gave a non-finite loss ({net.name}); stopped at epoch "
                    f"{p.epoch}, step {p.step}. The last good checkpoints in {self.folder.path} are intact.",
                    f"Lower {where}.optimizer.lr or set {where}.grad_clip, then --overwrite.",
                )

    # -- epoch end and finish -------------------------------------------------------------------------

    def end_epoch(self, started: float, train_seconds: float, images: int, preview: torch.Tensor | None) -> None:
        """Validate, keep the last and the best weights, log the epoch, and snapshot the start of the next."""
        p, main, board = self.progress, self.cluster.main, self.board
        assert board is not None
        for net in self.networks:
            if net.scheduler is not None:
                net.scheduler.step(p.epoch)
        train = records.train_means(self.networks, p.step, self.cluster)
        bad = set(p.bad_files)
        with ExitStack() as averaged:  # validation, best and last use each network's average, if it keeps one
            for net in self.networks:
                averaged.enter_context(net.averaged())
            val = self.task.validate(self.val_loader, self.console, self.cluster, bad)
            p.bad_files = sorted(bad)
            value = val[self.task.monitor]
            improved = p.improves(value, self.task.higher_is_better)
            seconds = time.perf_counter() - started
            if main:
                kinds = ["last", "best"] if improved else ["last"]
                records.save_weights_files(self.folder, self.networks, self.recipe, kinds, self.channels, epoch=p.epoch,
                                           monitor=self.task.monitor, value=value)  # fmt: skip
                records.log_epoch(self.folder, board, p, self.networks, train=train, val=val, seconds=seconds,
                                  train_seconds=train_seconds, images=images, cluster=self.cluster)  # fmt: skip
                records.log_preview(board, self.task.preview(preview) if preview is not None else None, p.global_step)
        if main and any(net.average is not None for net in self.networks):
            kept = [net for net in self.networks if net.average is not None]
            records.save_weights_files(self.folder, kept, self.recipe, ["raw"], self.channels, epoch=p.epoch)
        if improved:
            p.best_value, p.best_epoch = value, p.epoch
        shown = "  ".join(f"{k} {v:.4g}" for k, v in val.items())
        mark = " [green]★ best[/]" if improved else ""
        loss = "  ".join(f"{k.removeprefix('train_')} {v:.4g}" for k, v in train.items() if k.endswith("loss"))
        self.say(f"epoch {p.epoch}: train {loss}  val {shown}  ({seconds:.0f}s){mark}")
        p.train_seconds += seconds
        p.next_epoch()
        for net in self.networks:
            net.new_epoch()
        self.reported = {}
        self.snapshot()

    def finish(self) -> None:
        p, monitor = self.progress, self.task.monitor
        if self.board is not None:
            self.board.close()
        if p.best_value is None:
            raise UserError(
                f"No epoch gave a finite validation {monitor}: training diverged. last.safetensors is kept.",
                "Lower train.optimizer.lr or set train.grad_clip, then rerun with --overwrite.",
            )
        if self.cluster.main:
            snapshots.remove_all(self.folder.path)  # finished: the weights files are what is kept
            records.write_summary(self.folder, self.recipe, self.task.fit, monitor, p, self.networks)
        if p.bad_files:
            self.say(f"[yellow]{len(p.bad_files)} unreadable images were skipped[/]; see {self.folder.file(BAD_FILES)}")
        best = self.folder.file(BEST)
        self.say(f"[bold green]done[/]: best epoch {p.best_epoch} (val {monitor} {p.best_value:.4g}) → {best}")

    def say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text)
