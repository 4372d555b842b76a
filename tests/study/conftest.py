"""Tiny studies on the session's Fashion-MNIST stand-in: a few steps a run, so a whole study takes seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import tiny_recipe

#: what every route of a tiny study overrides in its kind's settings: a few small batches
TINY = ["train.batch_size=16", "train.max_steps_per_epoch=2", "train.val_batch_size=64", "train.log_every=1"]


def tiny_study(tmp_path: Path, fmnist_root: Path, **fields: Any) -> dict[str, Any]:
    """A study dict: the tiny recipe's sections as its base, two seeds, bicubic and a fine-tuned classifier."""
    recipe = tiny_recipe(tmp_path, fmnist_root)
    base = {k: recipe[k] for k in ("device", "data", "degradation", "teacher", "student", "compare")}
    study: dict[str, Any] = {
        "name": "tiny_study",
        "dir": str(tmp_path / "study"),
        "seeds": [0, 1],
        "base": base,
        "routes": [
            {"name": "bicubic", "kind": "bicubic"},
            {"name": "lr_finetune", "kind": "lr_finetune", "set": TINY},
        ],
    }
    study.update(fields)
    return study


@pytest.fixture
def write_study(tmp_path: Path, fmnist_root: Path):
    """``write_study(**fields) -> Path``: a tiny study YAML in tmp_path (fields replace the defaults)."""
    counter = iter(range(1_000_000))

    def write(**fields: Any) -> Path:
        path = tmp_path / f"study_{next(counter)}.yaml"
        path.write_text(yaml.safe_dump(tiny_study(tmp_path, fmnist_root, **fields), sort_keys=False))
        return path

    return write
