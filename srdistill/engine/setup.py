"""Setting a run up: every part built before the run folder is touched (so a failure leaves no
trace), then the run started, or put back where its newest snapshot left it."""

from __future__ import annotations

from typing import Any

import torch
from rich.console import Console

from srdistill.engine import distributed, snapshots
from srdistill.engine.board import Board
from srdistill.engine.build import build
from srdistill.engine.distributed import Cluster
from srdistill.engine.ema import Ema
from srdistill.engine.guard import NonFiniteGuard
from srdistill.engine.loaders import make_loader
from srdistill.engine.optim import optimizer_and_scheduler
from srdistill.engine.progress import LossSums, Progress
from srdistill.engine.runs import TEACHER_FILE, RunDir, Status
from srdistill.engine.sampling import EpochBatches
from srdistill.engine.session import Training
from srdistill.engine.tasks import StudentFit, make_task
from srdistill.errors import UserError
from srdistill.imaging import to_unit
from srdistill.recipe.schema import Recipe


def start(recipe: Recipe, console: Console, run: RunDir, status: Status, cluster: Cluster) -> Training:
    """Build every part, then start the run in ``run`` or resume it from its newest snapshot."""
    cfg = recipe.train
    parts = build(recipe, "train", distributed.start(cluster, recipe.device))
    device = parts.device
    task = make_task(recipe, parts)
    batch = distributed.per_process_batch(cfg.batch_size, cluster)
    train_loader = make_loader(parts.data.train, batch, device=device, shuffle=True, seed=recipe.seed,
                               num_workers=cfg.num_workers, cluster=cluster, with_index=True)  # fmt: skip
    val_loader = make_loader(parts.data.val, cfg.val_batch_size, device=device, num_workers=cfg.num_workers,
                             cluster=cluster)  # fmt: skip
    sampler: EpochBatches = train_loader.batch_sampler  # type: ignore[assignment]
    steps = min(cfg.max_steps_per_epoch or sampler.batches(), sampler.batches())
    if steps == 0:
        raise UserError(
            f"The training split ({len(parts.data.train)} images) holds less than one batch of {cfg.batch_size}.",
            "Lower train.batch_size or use more training images.",
        )
    optimizer, scheduler = optimizer_and_scheduler(task.weights, cfg, steps)
    ema = Ema(task.weights, cfg.ema) if cfg.ema is not None else None
    progress = Progress()
    out = console if cluster.main else None
    if status == "resume":
        latest, state = snapshots.load_latest(run.path, task.weights, lambda m: console.print(f"[yellow]{m}[/]"))
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state["scheduler"] is not None:
            scheduler.load_state_dict(state["scheduler"])
        snapshots.set_rng_state(state["rng"])
        if ema is not None and state.get("ema") is not None:
            ema.load_state_dict(state["ema"])
        progress = Progress.from_state(state["progress"])
        progress.bad_files = sorted(set(progress.bad_files) | set(state.get("bad_files", [])))  # older snapshots
        if cluster.main:
            run.keep_epochs_before(progress.epoch)  # rows written after this snapshot are written again
        if out is not None:
            out.print(f"[bold]resuming[/] {run.path} at epoch {progress.epoch}, step {progress.step} ({latest.name})")
    elif cluster.main:
        run.create(recipe, status)
        run.write_json(TEACHER_FILE, parts.teacher.preprocessing())
    guard = NonFiniteGuard(optimizer, cluster, device)
    guard.restore(progress.nonfinite, progress.nonfinite_run)
    main = cluster.main  # only the first process logs
    board = Board(
        run.path, cfg.tensorboard if main else False, progress.global_step or None, recipe.wandb if main else None
    )
    preview = _preview_batch(parts.data.val, device) if isinstance(task, StudentFit) else None
    return Training(
        recipe, cluster, out, run, parts, task, distributed.wrap(task.model, cluster, device),
        [p for p in task.weights.parameters() if p.requires_grad], optimizer, scheduler, guard, train_loader,
        val_loader, steps, progress, LossSums(progress.sums, device), board, preview, ema, progress.nonfinite,
    )  # fmt: skip


def _preview_batch(dataset: Any, device: torch.device, count: int = 6) -> torch.Tensor | None:
    """The first readable validation images, for the reconstruction grids."""
    images = [dataset[i][0] for i in range(min(count * 2, len(dataset)))]
    images = [img for img in images if img is not None][:count]
    images = [img for img in images if img.shape == images[0].shape]  # a photo folder's sizes differ
    return to_unit(torch.stack(images).to(device)) if images else None
