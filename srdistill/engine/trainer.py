"""The training loop, for the student and the teacher alike. It reads top to bottom."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from srdistill.catalog import catalog
from srdistill.checkpoints import save_weights
from srdistill.engine import distributed, snapshots
from srdistill.engine.board import Board
from srdistill.engine.build import build_parts, check_paths, checkpoint_metadata
from srdistill.engine.runs import BAD_FILES, BEST, LAST, SUMMARY_FILE, TEACHER_FILE, RunDir, resolved_yaml
from srdistill.engine.runtime import autocast, configure, make_loader, seed_everything, synchronize
from srdistill.engine.signals import StopRequests
from srdistill.engine.tasks import make_task
from srdistill.engine.updates import GuardedUpdate
from srdistill.errors import Stopped, UserError
from srdistill.imaging import to_unit
from srdistill.recipe.schema import Recipe
from srdistill.ui.progress import ProgressBar


def train(recipe: Recipe, console: Console, *, overwrite: bool = False, resume: bool = False) -> Path:
    """Train what ``recipe.train.fit`` names; returns the run folder.

    A run folder holding an unfinished run of the same recipe is resumed from its newest
    snapshot. Under torchrun every process runs this function; only the first writes files.
    """
    cfg = recipe.train
    cluster = distributed.from_env()
    say = console.print if cluster.main else _silent
    check_paths(recipe)
    run = RunDir(recipe.run_dir)
    recipe_text = resolved_yaml(recipe)
    status = run.check(recipe_text, overwrite, resume)
    if status == "finished":
        say(f"[green]{run.path} already holds this finished run[/]; nothing to do (--overwrite retrains).")
        return run.path

    # -- build (before the run folder is touched, so a failure leaves no trace) -----------------
    seed_everything(recipe.seed)
    device = distributed.start(cluster, recipe.device)
    configure(recipe.runtime, device)
    parts = build_parts(recipe, device)
    task = make_task(recipe, parts, device)
    model = distributed.wrap(task.model, cluster, device)
    batch = distributed.per_process_batch(cfg.batch_size, cluster)
    train_loader = make_loader(
        parts.data.train, batch, device=device, shuffle=True, seed=recipe.seed, num_workers=cfg.num_workers,
        cluster=cluster, with_index=True,
    )  # fmt: skip
    val_loader = make_loader(
        parts.data.val, cfg.val_batch_size, device=device, num_workers=cfg.num_workers, cluster=cluster
    )
    sampler = train_loader.batch_sampler
    steps = sampler.batches() if cfg.max_steps_per_epoch is None else min(cfg.max_steps_per_epoch, sampler.batches())
    if steps == 0:
        raise UserError(
            f"The training split ({len(parts.data.train)} images) holds less than one batch of {cfg.batch_size}.",
            "Lower train.batch_size or use more training images.",
        )
    optimizer, scheduler = _optimizer_and_scheduler(task.weights, recipe, steps)
    params = [p for p in task.weights.parameters() if p.requires_grad]
    update = GuardedUpdate(optimizer, params, cfg.grad_clip, cluster, device)
    monitor = _monitor(recipe, parts.teacher.kind)
    higher_is_better = monitor != "ce_gap" and catalog().metrics.get(monitor).build().higher_is_better

    # -- where to start: a new run, or the newest snapshot of this one ---------------------------
    at: dict[str, Any] = {"epoch": 1, "step": 0, "global_step": 0, "best_value": None, "best_epoch": 0, "sums": {}}
    at |= {"nonfinite": 0, "nonfinite_run": 0}
    bad_files: set[str] = set()
    if status == "resume":
        latest = snapshots.snapshots(run.path)[-1]
        state = snapshots.load_snapshot(latest, task.weights)
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state["scheduler"] is not None:
            scheduler.load_state_dict(state["scheduler"])
        snapshots.set_rng_state(state["rng"])
        at |= state["progress"]
        update.restore(at["nonfinite"], at["nonfinite_run"])
        bad_files |= set(state["bad_files"])
        say(f"[bold]resuming[/] {run.path} at epoch {at['epoch']}, step {at['step']} ({latest.name})")
    elif cluster.main:
        run.create(recipe_text, overwrite)
        run.write_json(TEACHER_FILE, parts.teacher.preprocessing())

    board = Board(run.path, cfg.tensorboard) if cluster.main else Board(run.path, False)
    preview = _preview_batch(parts.data.val, device) if hasattr(task, "preview") else None

    def snapshot() -> None:
        """Save everything needed to continue from here (main process only)."""
        if not cluster.main:
            return
        at["nonfinite"], at["nonfinite_run"], _ = update.read()
        at["sums"] = {k: float(v) for k, v in at["sums"].items()}
        state = {
            "progress": dict(at),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": snapshots.rng_state(),
            "bad_files": sorted(bad_files),
        }
        snapshots.save_snapshot(run.path, at["global_step"], task.weights, state)

    say(
        f"[bold]{recipe.name}[/]: fit {task.role} on {device}"
        + (f" × {cluster.world} processes" if cluster.distributed else "")
        + f", {cfg.epochs} epochs × {steps} steps of {cfg.batch_size}; best epoch by val {monitor} "
        f"({'max' if higher_is_better else 'min'}) → {run.path}"
    )

    # -- loop ----------------------------------------------------------------------------------
    # Nothing in a step waits for the device: the loss and the count of skipped (non-finite)
    # steps are read back every log_every steps, at snapshots and at the end of the epoch.
    last_snapshot = time.monotonic()
    reported = at["nonfinite"]  # skipped steps already reported

    def check_nonfinite() -> None:
        nonlocal reported
        skipped, _, longest = update.read()
        if skipped > reported:
            what = (
                "loss is not finite; update skipped"
                if skipped - reported == 1
                else (f"{skipped - reported} losses were not finite; updates skipped")
            )
            say(f"[yellow]step {at['global_step']}: {what}[/]")
            reported = skipped
        if longest >= cfg.max_nonfinite_steps:
            raise UserError(
                f"{longest} training steps in a row gave a non-finite loss; stopped at epoch {at['epoch']}, "
                f"step {at['step']}. The last good checkpoints in {run.path} are intact.",
                "Lower train.optimizer.lr or set train.grad_clip, then --overwrite.",
            )

    with StopRequests() as stop:
        while at["epoch"] <= cfg.epochs:
            epoch = at["epoch"]
            start = time.perf_counter()
            images_seen = 0
            model.train()
            task.train_mode()
            sampler.set_position(epoch, skip=at["step"])
            with ProgressBar(
                console if cluster.main else None, f"epoch {epoch}/{cfg.epochs}", steps, cfg.log_every
            ) as bar:
                for images, labels, bad, index in train_loader:
                    if at["step"] >= steps:
                        break
                    bad_files.update(bad)
                    hr = to_unit(images.to(device, non_blocking=True))
                    labels = labels.to(device, non_blocking=True)
                    at["step"] += 1
                    at["global_step"] += 1
                    images_seen += len(hr)
                    logging_step = at["step"] % cfg.log_every == 0 or at["step"] == steps

                    empty = distributed.any_all(len(hr) == 0, cluster, device)  # every image unreadable
                    if not empty:
                        with autocast(recipe.runtime, device):
                            losses = task.losses(hr, labels, model, index=index)
                        skipped = update(losses["loss"])  # on the device: 1 if the loss was not finite
                        for name, value in losses.items():
                            kept = torch.where(
                                skipped > 0, 0.0, value.detach().to(SUM_DTYPE.get(device.type, torch.float64))
                            )
                            at["sums"][name] = at["sums"].get(name, 0.0) + kept
                    if scheduler is not None:
                        scheduler.step_update(num_updates=at["global_step"])
                    shown = None
                    if logging_step and not empty:  # reading the loss waits for the device
                        loss = float(losses["loss"].detach())
                        shown = f"loss {loss:.4g}"
                        board.scalars({"train/loss": loss}, at["global_step"])
                        check_nonfinite()
                    bar.update(at["step"], shown)

                    every = cfg.checkpoint_every and at["global_step"] % cfg.checkpoint_every == 0
                    due = cfg.checkpoint_minutes and time.monotonic() - last_snapshot > 60 * cfg.checkpoint_minutes
                    stopping = stop.requested is not None
                    if cluster.distributed:  # the processes agree on stopping when they log (a collective read)
                        stopping = logging_step and distributed.any_all(stopping, cluster, device)
                    if every or due or stopping:
                        check_nonfinite()
                        snapshot()
                        last_snapshot = time.monotonic()
                    if stopping:
                        distributed.stop(cluster)
                        raise Stopped(
                            f"{stop.requested or 'stopped'}: saved a snapshot at epoch {epoch}, step {at['step']} in "
                            f"{run.path}; run the same command again to resume.",
                            128 + stop.signal_number,
                        )
            check_nonfinite()
            synchronize(device)
            train_seconds = time.perf_counter() - start

            # -- end of epoch: validate, keep the best, log --------------------------------------
            if scheduler is not None:
                scheduler.step(epoch)
            at["nonfinite"], at["nonfinite_run"], _ = update.read()
            done = max(1, at["step"] - at["nonfinite"])
            names = sorted(at["sums"])
            sums = torch.tensor([float(at["sums"][k]) for k in names], dtype=torch.float64)
            means = distributed.sum_all(sums.to(device) if cluster.distributed else sums, cluster).cpu()
            train_values = {f"train_{k}": v / done / cluster.world for k, v in zip(names, means.tolist(), strict=True)}
            val_values = task.validate(val_loader, console if cluster.main else None, cluster, bad_files)
            value = val_values[monitor]
            improved = math.isfinite(value) and (
                at["best_value"] is None or (value > at["best_value"] if higher_is_better else value < at["best_value"])
            )
            seconds = time.perf_counter() - start
            if cluster.main:
                meta = checkpoint_metadata(
                    task.role, task.config, recipe=recipe.name, epoch=epoch, monitor=monitor, value=value,
                    channels=parts.data.info.channels,
                )  # fmt: skip
                save_weights(task.weights, run.file(LAST), meta)
                if improved:
                    save_weights(task.weights, run.file(BEST), meta)
                row: dict[str, Any] = {"epoch": epoch, "step": at["global_step"], "lr": optimizer.param_groups[0]["lr"]}
                row |= train_values | {f"val_{k}": v for k, v in val_values.items()}
                row |= {"nonfinite_steps": at["nonfinite"], "bad_files": len(bad_files), "seconds": round(seconds, 2)}
                row["train_images_per_s"] = float(f"{images_seen * cluster.world / max(train_seconds, 1e-9):.4g}")
                run.log_epoch(row)
                board.scalars({k: v for k, v in row.items() if isinstance(v, float)}, at["global_step"], "epoch/")
                if preview is not None:
                    board.image("reconstructions", task.preview(preview), at["global_step"])
                if bad_files:
                    run.write_lines(BAD_FILES, sorted(bad_files))
            if improved:
                at["best_value"], at["best_epoch"] = value, epoch
            shown = "  ".join(f"{k} {v:.4g}" for k, v in val_values.items())
            mark = " [green]★ best[/]" if improved else ""
            loss = train_values.get("train_loss", math.nan)
            say(f"epoch {epoch}: train loss {loss:.4g}  val {shown}  ({seconds:.0f}s){mark}")
            at |= {"epoch": epoch + 1, "step": 0, "sums": {}, "nonfinite": 0}
            update.new_epoch()
            reported = 0
            snapshot()
            last_snapshot = time.monotonic()

    # -- finish --------------------------------------------------------------------------------
    board.close()
    distributed.stop(cluster)
    if at["best_value"] is None:
        raise UserError(
            f"No epoch gave a finite validation {monitor}: training diverged. last.safetensors is kept.",
            "Lower train.optimizer.lr or set train.grad_clip, then rerun with --overwrite.",
        )
    if cluster.main:
        snapshots.remove_all(run.path)  # finished: best/last.safetensors are what is kept
        run.write_json(SUMMARY_FILE, {
            "recipe": recipe.name, "fit": task.role, "monitor": monitor, "best_epoch": at["best_epoch"],
            "best_value": at["best_value"], "best": str(run.file(BEST)), "last": str(run.file(LAST)),
            "epochs": cfg.epochs, "bad_files": len(bad_files),
        })  # fmt: skip
    if bad_files:
        say(f"[yellow]{len(bad_files)} unreadable images were skipped[/]; they are listed in {run.file(BAD_FILES)}")
    say(f"[bold green]done[/]: best epoch {at['best_epoch']} (val {monitor} {at['best_value']:.4g}) → {run.file(BEST)}")
    return run.path


def _monitor(recipe: Recipe, teacher_kind: str) -> str:
    """The validation value that picks the best epoch; a dense teacher has no labels to score."""
    if teacher_kind == "classifier":
        return recipe.monitor
    if recipe.train.fit == "teacher":
        raise UserError(
            f"train.fit: teacher fits with labels, but teacher '{recipe.teacher.type}' outputs {teacher_kind} maps.",
            "Fit a classifier teacher, or train the student (train.fit: student).",
        )
    label_values = {"ce_gap", "top1", "top5", "ce"}
    if recipe.train.monitor in label_values:
        raise UserError(
            f"train.monitor '{recipe.train.monitor}' needs labels, but teacher '{recipe.teacher.type}' outputs "
            f"{teacher_kind} maps.",
            "Monitor logit_mse, agreement, psnr or ssim (logit_mse is the default for such teachers).",
        )
    return recipe.train.monitor or "logit_mse"


def _preview_batch(dataset: Any, device: torch.device, count: int = 6) -> torch.Tensor | None:
    """The first readable validation images, for the reconstruction grids."""
    images = [dataset[i][0] for i in range(min(count * 2, len(dataset)))]
    images = [img for img in images if img is not None][:count]
    images = [img for img in images if img.shape == images[0].shape]  # a photo folder's sizes differ
    return to_unit(torch.stack(images).to(device)) if images else None


#: device type -> dtype of the running loss sums (MPS has no float64)
SUM_DTYPE = {"mps": torch.float32}


def _silent(*args: object, **kwargs: object) -> None:
    """Output of processes other than the first."""


def _optimizer_and_scheduler(module: torch.nn.Module, recipe: Recipe, steps_per_epoch: int) -> tuple[Any, Any]:
    """The recipe's optimizer and learning-rate schedule, both from timm (the schedule steps per update)."""
    from timm.optim import create_optimizer_v2
    from timm.scheduler import create_scheduler_v2

    opt, sched = recipe.train.optimizer, recipe.train.scheduler
    kwargs = {"lr": opt.lr, "weight_decay": opt.weight_decay, "momentum": opt.momentum}
    if opt.fused is False:
        optimizer = create_optimizer_v2(module, opt=opt.name, **kwargs)
    else:
        try:
            optimizer = create_optimizer_v2(module, opt=opt.name, fused=True, **kwargs)
        except (TypeError, RuntimeError):  # no fused form, or not for this device
            if opt.fused:
                raise UserError(
                    f"train.optimizer.fused is true but optimizer '{opt.name}' has no fused form here.",
                    "Use adam, adamw or sgd, or drop train.optimizer.fused.",
                ) from None
            optimizer = create_optimizer_v2(module, opt=opt.name, **kwargs)
    if sched.name == "none":
        return optimizer, None
    scheduler, _ = create_scheduler_v2(
        optimizer,
        sched=sched.name,
        num_epochs=recipe.train.epochs,
        warmup_epochs=sched.warmup_epochs,
        warmup_lr=sched.warmup_lr,
        min_lr=sched.min_lr,
        decay_epochs=sched.decay_epochs,
        decay_milestones=list(sched.decay_milestones),
        decay_rate=sched.decay_rate,
        step_on_epochs=False,
        updates_per_epoch=steps_per_epoch,
    )
    return optimizer, scheduler
