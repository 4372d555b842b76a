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
from srdistill.engine.build import build_parts, check_paths, checkpoint_metadata
from srdistill.engine.runs import BEST, LAST, SUMMARY_FILE, TEACHER_FILE, RunDir, resolved_yaml
from srdistill.engine.runtime import autocast, configure, make_loader, seed_everything, select_device
from srdistill.engine.tasks import make_task
from srdistill.errors import UserError
from srdistill.imaging import to_unit
from srdistill.recipe.schema import Recipe
from srdistill.ui.progress import ProgressBar


def train(recipe: Recipe, console: Console, *, overwrite: bool = False) -> Path:
    """Train what ``recipe.train.fit`` names; returns the run folder."""
    cfg = recipe.train
    check_paths(recipe)
    run = RunDir(recipe.run_dir)
    recipe_text = resolved_yaml(recipe)
    if run.check(recipe_text, overwrite) == "finished":
        console.print(f"[green]{run.path} already holds this finished run[/]; nothing to do (--overwrite retrains).")
        return run.path

    # -- build (before the run folder is touched, so a failure leaves no trace) -----------------
    seed_everything(recipe.seed)
    device = select_device(recipe.device)
    configure(recipe.runtime, device)
    parts = build_parts(recipe, device)
    task = make_task(recipe, parts, device)
    train_loader = make_loader(
        parts.data.train,
        cfg.batch_size,
        device=device,
        shuffle=True,
        seed=recipe.seed,
        num_workers=cfg.num_workers,
    )
    val_loader = make_loader(parts.data.val, cfg.val_batch_size, device=device, num_workers=cfg.num_workers)
    steps = len(train_loader) if cfg.max_steps_per_epoch is None else min(cfg.max_steps_per_epoch, len(train_loader))
    optimizer, scheduler = _optimizer_and_scheduler(task.weights, recipe, steps)
    params = [p for p in task.weights.parameters() if p.requires_grad]
    run.create(recipe_text, overwrite)
    run.write_json(TEACHER_FILE, parts.teacher.preprocessing())

    monitor = recipe.monitor
    higher_is_better = monitor != "ce_gap" and catalog().metrics.get(monitor).build().higher_is_better
    best_value: float | None = None
    best_epoch = 0
    console.print(
        f"[bold]{recipe.name}[/]: fit {task.role} on {device}, {cfg.epochs} epochs × {steps} steps of "
        f"{cfg.batch_size}; best epoch by val {monitor} ({'max' if higher_is_better else 'min'}) → {run.path}"
    )

    # -- loop ----------------------------------------------------------------------------------
    global_step = 0
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        task.model.train()
        sums: dict[str, torch.Tensor] = {}
        with ProgressBar(console, f"epoch {epoch}/{cfg.epochs}", steps, cfg.log_every) as bar:
            for step, (images, labels) in enumerate(train_loader, 1):
                if step > steps:
                    break
                hr = to_unit(images.to(device, non_blocking=True))
                labels = labels.to(device, non_blocking=True)

                with autocast(recipe.runtime, device):
                    losses = task.losses(hr, labels)
                optimizer.zero_grad(set_to_none=True)
                losses["loss"].backward()
                if cfg.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                optimizer.step()
                global_step += 1
                if scheduler is not None:
                    scheduler.step_update(num_updates=global_step)

                for name, value in losses.items():
                    sums[name] = sums.get(name, 0) + value.detach()
                # reading the loss waits for the device, so only every log_every steps
                bar.update(step, f"loss {losses['loss'].item():.4g}" if step % cfg.log_every == 0 else None)
        if scheduler is not None:
            scheduler.step(epoch)
        train_values = {f"train_{k}": float(v) / steps for k, v in sums.items()}

        val_values = task.validate(val_loader, console)
        value = val_values[monitor]
        improved = math.isfinite(value) and (
            best_value is None or (value > best_value if higher_is_better else value < best_value)
        )
        meta = checkpoint_metadata(
            task.role, task.config, recipe=recipe.name, epoch=epoch, monitor=monitor, value=value
        )
        save_weights(task.weights, run.file(LAST), meta)
        if improved:
            best_value, best_epoch = value, epoch
            save_weights(task.weights, run.file(BEST), meta)

        seconds = time.perf_counter() - start
        row: dict[str, Any] = {"epoch": epoch, "step": global_step, "lr": optimizer.param_groups[0]["lr"]}
        row |= train_values | {f"val_{k}": v for k, v in val_values.items()} | {"seconds": round(seconds, 2)}
        run.log_epoch(row)
        shown = "  ".join(f"{k} {v:.4g}" for k, v in val_values.items())
        mark = " [green]★ best[/]" if improved else ""
        console.print(
            f"epoch {epoch}: train loss {train_values['train_loss']:.4g}  val {shown}  ({seconds:.0f}s){mark}"
        )

    # -- finish --------------------------------------------------------------------------------
    if best_value is None:
        raise UserError(
            f"No epoch gave a finite validation {monitor}: training diverged. last.safetensors is kept.",
            "Lower train.optimizer.lr or set train.grad_clip, then rerun with --overwrite.",
        )
    summary = {
        "recipe": recipe.name,
        "fit": task.role,
        "monitor": monitor,
        "best_epoch": best_epoch,
        "best_value": best_value,
        "best": str(run.file(BEST)),
        "last": str(run.file(LAST)),
        "epochs": cfg.epochs,
    }
    run.write_json(SUMMARY_FILE, summary)
    console.print(f"[bold green]done[/]: best epoch {best_epoch} (val {monitor} {best_value:.4g}) → {run.file(BEST)}")
    return run.path


def _optimizer_and_scheduler(module: torch.nn.Module, recipe: Recipe, steps_per_epoch: int) -> tuple[Any, Any]:
    """The recipe's optimizer and learning-rate schedule, both from timm (the schedule steps per update)."""
    from timm.optim import create_optimizer_v2
    from timm.scheduler import create_scheduler_v2

    opt, sched = recipe.train.optimizer, recipe.train.scheduler
    optimizer = create_optimizer_v2(
        module, opt=opt.name, lr=opt.lr, weight_decay=opt.weight_decay, momentum=opt.momentum
    )
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
