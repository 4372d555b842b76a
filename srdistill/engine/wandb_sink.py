"""Weights & Biases logging of a run: the same scalars and grids as TensorBoard, one W&B run per run folder."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from srdistill.engine.runs import WANDB_ID_FILE
from srdistill.errors import UserError

if TYPE_CHECKING:
    from srdistill.recipe.sections import WandbConfig

#: the W&B run id, kept in the run folder so a resumed run continues the same W&B run
STEP = "global_step"


class WandbSink:
    """One W&B run for ``run_path``; values are plotted against the training step (``global_step``)."""

    def __init__(self, cfg: WandbConfig, run_path: Path) -> None:
        try:
            import wandb
        except ImportError:
            raise UserError(
                "The recipe asks for W&B logging (wandb:) but the wandb package is not installed.",
                "pip install wandb (srdistill's `wandb` extra), or remove the recipe's wandb section.",
            ) from None
        self.wandb = wandb
        config = _resolved_recipe(run_path)
        try:
            self.run = wandb.init(
                project=cfg.project,
                entity=cfg.entity,
                name=cfg.name or config.get("name"),
                mode=cfg.mode,  # None: wandb's own default (WANDB_MODE, else online)
                tags=list(cfg.tags),
                config=config,
                id=_run_id(run_path),
                resume="allow",
                dir=os.environ.get("WANDB_DIR") or str(run_path),
            )
        except Exception as e:  # wandb raises its own types (no API key, no network, bad entity)
            raise UserError(
                f"W&B could not start a run in project '{cfg.project}': {e}",
                "Run `wandb login` (or set WANDB_API_KEY), or log offline and `wandb sync` later: WANDB_MODE=offline "
                "or --set wandb.mode=offline (the run continues where it stopped).",
            ) from None
        # a resumed run re-logs steps after its snapshot: a custom step axis accepts them
        self.run.define_metric(STEP)
        self.run.define_metric("*", step_metric=STEP)

    def scalars(self, values: dict[str, float], step: int) -> None:
        self.run.log({**values, STEP: step})

    def image(self, tag: str, grid: torch.Tensor, step: int) -> None:
        pixels = (grid.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        self.run.log({tag: self.wandb.Image(pixels), STEP: step})

    def close(self) -> None:
        self.run.finish()


def _resolved_recipe(run_path: Path) -> dict[str, Any]:
    """The run's resolved recipe (written by the trainer before logging starts), as the W&B config."""
    import yaml

    from srdistill.engine.runs import RECIPE_FILE

    path = run_path / RECIPE_FILE
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _run_id(run_path: Path) -> str:
    """The run folder's W&B id, created (atomically) on first use."""
    path = run_path / WANDB_ID_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    run_id = secrets.token_hex(4)
    run_path.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{WANDB_ID_FILE}.tmp")
    tmp.write_text(run_id + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return run_id
