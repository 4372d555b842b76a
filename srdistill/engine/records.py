"""What a run writes as it trains, on the first process: each trained network's weights files, an
epoch's metrics row and logs, and the summary at the finish (file names in :mod:`srdistill.engine.runs`)."""

from __future__ import annotations

from typing import Any

import torch

from srdistill.checkpoints import component_metadata, save_weights
from srdistill.engine.board import Board
from srdistill.engine.distributed import Cluster
from srdistill.engine.progress import Progress
from srdistill.engine.runs import BAD_FILES, SUMMARY_FILE, RunDir, weights_file
from srdistill.engine.trainable import Trainable
from srdistill.imaging import to_unit
from srdistill.recipe.schema import Recipe


def open_board(run: RunDir, recipe: Recipe, main: bool, global_step: int) -> Board:
    """TensorBoard (and W&B) logs, on the first process only; a resumed run drops events after its snapshot."""
    return Board(run.path, recipe.train.tensorboard if main else False, global_step or None,
                 recipe.wandb if main else None)  # fmt: skip


def column(name: str, network: str, networks: list[Trainable]) -> str:
    """A per-network column: ``name`` with one trained network, ``name_<network>`` with several."""
    return name if len(networks) == 1 else f"{name}_{network}"


def train_means(networks: list[Trainable], steps: int, cluster: Cluster) -> dict[str, float]:
    """This epoch's mean losses as metrics columns: ``train_<loss>`` (``train_<network>_<loss>`` with several)."""
    out: dict[str, float] = {}
    for net in networks:
        prefix = "train_" if len(networks) == 1 else f"train_{net.name}_"
        out |= {f"{prefix}{k}": v for k, v in net.train_means(steps, cluster).items()}
    return out


def save_weights_files(
    run: RunDir, networks: list[Trainable], recipe: Recipe, kinds: list[str], channels: int, **meta: Any
) -> None:
    """Save each network's current weights as each of ``kinds`` (best, last, raw), with the metadata
    that rebuilds its component (role, config) and ``meta``."""
    for i, net in enumerate(networks):
        info = component_metadata(net.network.role, net.network.config, recipe=recipe.name, channels=channels, **meta)
        for kind in kinds:
            save_weights(net.module, run.file(weights_file(kind, net.name, i == 0)), info | {"weights": kind})


def log_epoch(
    run: RunDir, board: Board, progress: Progress, networks: list[Trainable], *, train: dict[str, float],
    val: dict[str, float], seconds: float, train_seconds: float, images: int, cluster: Cluster,
) -> None:  # fmt: skip
    """The epoch's row in metrics.csv and on the boards, and the list of unreadable files."""
    p = progress
    row: dict[str, Any] = {"epoch": p.epoch, "step": p.global_step}
    row |= {column("lr", n.name, networks): n.optimizer.param_groups[0]["lr"] for n in networks}
    row |= train | {f"val_{k}": v for k, v in val.items()}
    row |= {column("nonfinite_steps", n.name, networks): n.guard.read()[0] for n in networks}
    row |= {"bad_files": len(p.bad_files), "seconds": round(seconds, 2)}
    row["train_images_per_s"] = float(f"{images * cluster.world / max(train_seconds, 1e-9):.4g}")
    run.log_epoch(row)
    board.scalars({k: v for k, v in row.items() if isinstance(v, float)}, p.global_step, "epoch/")
    if p.bad_files:
        run.write_lines(BAD_FILES, p.bad_files)


def log_preview(board: Board, grid: torch.Tensor | None, step: int) -> None:
    if grid is not None:
        board.image("reconstructions", grid, step)


def write_summary(run: RunDir, recipe: Recipe, fit: str, monitor: str, progress: Progress,
                  networks: list[Trainable]) -> None:  # fmt: skip
    p = progress
    files = {
        net.name: {kind: str(run.file(weights_file(kind, net.name, i == 0))) for kind in ("best", "last")}
        for i, net in enumerate(networks)
    }
    first = files[networks[0].name]
    run.write_json(SUMMARY_FILE, {
        "recipe": recipe.name, "fit": fit, "monitor": monitor, "best_epoch": p.best_epoch,
        "best_value": p.best_value, "best": first["best"], "last": first["last"], "networks": files,
        "epochs": recipe.train.epochs, "train_seconds": round(p.train_seconds, 2), "bad_files": len(p.bad_files),
    })  # fmt: skip


def preview_batch(dataset: Any, device: torch.device, count: int = 6) -> torch.Tensor | None:
    """The first readable validation images, for the reconstruction grids."""
    images = [dataset[i][0] for i in range(min(count * 2, len(dataset)))]
    images = [img for img in images if img is not None][:count]
    images = [img for img in images if img.shape == images[0].shape]  # a photo folder's sizes differ
    return to_unit(torch.stack(images).to(device)) if images else None
