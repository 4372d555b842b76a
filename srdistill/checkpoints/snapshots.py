"""Training snapshots: everything needed to continue a run exactly where it stopped.

A snapshot is a folder ``resume/step-<global step>/`` holding ``state.pt``: the trainer's
``state_dict()`` (each trained network's weights, optimizer, schedule, average and counters, the
run's progress and the random-number generators; plain tensors and numbers, read back with
``weights_only=True``). It is written under a temporary name and renamed into place, so a crash
mid-write never leaves a half-written snapshot; the newest two are kept.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from srdistill.checkpoints import fsync_dir, read_state_dict
from srdistill.errors import UserError

FOLDER = "resume"
STATE = "state.pt"
#: where snapshots of srdistill 0.1 kept the one trained network's weights (read by :func:`_upgrade`)
OLD_WEIGHTS = "model.safetensors"
KEEP = 2


def save_snapshot(run_path: Path, global_step: int, state: dict[str, Any]) -> Path:
    """Write a snapshot atomically and drop all but the newest :data:`KEEP`."""
    root = run_path / FOLDER
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{global_step:09d}"
    tmp = root / f".tmp-step-{global_step:09d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    with open(tmp / STATE, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    if final.exists():  # the same step saved twice (e.g. a stop right after an epoch end)
        shutil.rmtree(final)
    os.replace(tmp, final)
    fsync_dir(root)
    for old in snapshots(run_path)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def remove_all(run_path: Path) -> None:
    """Drop every snapshot (the run is finished; they can be as large as the model three times over)."""
    shutil.rmtree(run_path / FOLDER, ignore_errors=True)


def snapshots(run_path: Path) -> list[Path]:
    """Complete snapshots, oldest first."""
    root = run_path / FOLDER
    if not root.is_dir():
        return []
    return sorted((p for p in root.glob("step-*") if (p / STATE).is_file()), key=lambda p: p.name)


def load_snapshot(path: Path, networks: list[str]) -> dict[str, Any]:
    """A snapshot's state (``networks``: the run's trained networks, to read an older snapshot by)."""
    try:
        state = torch.load(path / STATE, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(
            f"Cannot read the training state {path / STATE}: {e}",
            "Delete that snapshot folder to resume from the one before it, or pass --overwrite to start again.",
        ) from None
    if (path / OLD_WEIGHTS).is_file() and "networks" not in state:
        state = _upgrade(state, read_state_dict(path / OLD_WEIGHTS, "snapshot"), networks)
    return state


def load_latest(run_path: Path, networks: list[str], warn: Callable[[str], None]) -> tuple[Path, dict[str, Any]]:
    """The newest snapshot that reads back whole, and its state.

    A snapshot is renamed into place only once written and flushed, so a damaged one means the
    disk lost data; the one before it is used then, and ``warn`` says so.
    """
    found = snapshots(run_path)
    for path in reversed(found):
        try:
            return path, load_snapshot(path, networks)
        except UserError as e:
            if path == found[0]:
                raise
            warn(f"snapshot {path.name} cannot be read ({e.problem.splitlines()[0]}); using the one before it")
    raise UserError(f"No snapshot to resume from in {run_path / FOLDER}.", "Pass --overwrite to start again.")


def _upgrade(old: dict[str, Any], weights: dict[str, torch.Tensor], networks: list[str]) -> dict[str, Any]:
    """A snapshot of srdistill 0.1 (one trained network; its counters kept with the progress) in today's form."""
    progress = dict(old["progress"])
    network = {
        "weights": weights,
        "optimizer": old["optimizer"],
        "scheduler": old["scheduler"],
        "average": old.get("ema"),
        "guard": {"skipped": progress.pop("nonfinite", 0), "run": progress.pop("nonfinite_run", 0)},
        "sums": progress.pop("sums", {}),
    }
    return {"progress": progress, "networks": {networks[0]: network}, "rng": old["rng"]}


def rng_state() -> dict[str, Any]:
    """The state of every random-number generator training uses."""
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()  # type: ignore[misc]
    return {
        "python": [version, list(mt), gauss],
        "numpy": [name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
