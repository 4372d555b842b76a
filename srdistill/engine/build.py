"""Turning a validated recipe into components."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from srdistill.catalog import catalog
from srdistill.checkpoints import read_metadata
from srdistill.data.base import DataInfo, Splits, relabel
from srdistill.errors import UserError
from srdistill.losses.base import WeightedSum
from srdistill.recipe.schema import Recipe
from srdistill.registry import ComponentConfig
from srdistill.students.base import SuperResolver
from srdistill.teachers.base import Teacher
from srdistill.weights import resolve_student


@dataclass
class Parts:
    """Everything a recipe describes, built and on its device."""

    data: Splits
    degradation: nn.Module
    teacher: Teacher
    student: SuperResolver | None
    loss: WeightedSum | None


def build_parts(recipe: Recipe, device: torch.device) -> Parts:
    cat = catalog()
    data: Splits = relabel(cat.datasets.build(recipe.data), getattr(recipe.data, "relabel", None))
    for split, size in data.sizes().items():
        if size == 0:
            raise UserError(f"The {split} split of the data set is empty.", "Check data.root and the split settings.")
    info = data.info
    degradation = cat.degradations.build(recipe.degradation).to(device)
    teacher = cat.teachers.build(recipe.teacher, info)
    student = cat.students.build(recipe.student, info) if recipe.student is not None else None
    teacher, student = place(teacher, recipe, device), place(student, recipe, device)
    loss = build_loss(recipe.losses)
    return Parts(data, degradation, teacher, student, loss.to(device) if loss is not None else None)


M = TypeVar("M", bound=nn.Module)


def place(module: M | None, recipe: Recipe, device: torch.device) -> M | None:
    """Move a model to the device, channels-last and compiled if the recipe asks for it."""
    if module is None:
        return module
    if recipe.runtime.channels_last:
        module = module.to(device=device, memory_format=torch.channels_last)
    else:
        module = module.to(device)
    if recipe.runtime.compile:
        module.compile()  # in place: state_dict keys stay as they are
    return module


def build_loss(configs: list[ComponentConfig]) -> WeightedSum | None:
    """The weighted sum of the recipe's losses; a type used twice is named ``type``, ``type_2``, …"""
    if not configs:
        return None
    seen: Counter[str] = Counter()
    terms = []
    for cfg in configs:
        seen[cfg.type] += 1
        name = cfg.type if seen[cfg.type] == 1 else f"{cfg.type}_{seen[cfg.type]}"
        terms.append((name, float(getattr(cfg, "weight", 1.0)), catalog().losses.build(cfg)))
    return WeightedSum(terms)


def checkpoint_metadata(role: str, config: ComponentConfig, **extra: Any) -> dict[str, Any]:
    """What a checkpoint records so that it can be rebuilt without its recipe."""
    return {"role": role, "config": config.model_dump(mode="json"), **extra}


def load_student_checkpoint(path: Path | str, info: DataInfo, fallback: ComponentConfig | None) -> SuperResolver:
    """A student rebuilt from a checkpoint.

    Checkpoints written by ``srdistill train`` carry their student config; other weight files
    (an ESRGAN or BasicSR ``.pth``, say) are read as the recipe's ``student`` type.
    """
    path = resolve_student(path)  # a release name: its verified file in torch's hub cache
    if not path.is_file():
        raise UserError(
            f"Checkpoint not found: {path}",
            "Train it first (srdistill train <the recipe that writes it>), or fix compare.checkpoints.",
        )
    meta = read_metadata(path) if path.suffix == ".safetensors" else {}
    if meta.get("role") == "teacher":
        raise UserError(f"{path} is a teacher checkpoint, not a student.", "List student checkpoints in compare.")
    cat = catalog()
    if "config" in meta:
        entry = cat.students.get(str(meta["config"].get("type")))
        assert entry.config is not None
        config: ComponentConfig = entry.config.model_validate(meta["config"])
    elif fallback is not None:
        config = fallback
    else:
        raise UserError(
            f"{path} does not say which student it holds, and the recipe has no student section.",
            "Add a student section naming its type (e.g. type: rrdb).",
        )
    if "weights" not in type(config).model_fields:
        raise UserError(f"{path}: student '{config.type}' has no weights to load.", "List trained students only.")
    return cat.students.build(config.model_copy(update={"weights": path}), info)


def check_paths(recipe: Recipe, *, checkpoints: bool = False) -> None:
    """Report every input file or folder the recipe names that does not exist, all at once."""
    missing = []
    named = [("data", recipe.data), ("teacher", recipe.teacher), ("student", recipe.student)]
    named += [(f"losses.{i}", loss) for i, loss in enumerate(recipe.losses)]
    for section, cfg in named:
        if cfg is None:
            continue
        for key, value in cfg:
            if isinstance(value, Path) and not value.exists():
                missing.append(f"{section}.{key}: {value}")
    if checkpoints:
        missing += [
            f"compare.checkpoints ({ref.name}): {ref.path}"
            for ref in recipe.compare.checkpoints
            if isinstance(ref.path, Path) and not ref.path.exists()  # a str is a release name
        ]
    if missing:
        raise UserError(
            "The recipe names paths that do not exist:\n" + "\n".join(f"  • {m}" for m in missing),
            "Fix them in the recipe or with --set (e.g. --set data.root=/path). Relative paths start at the "
            "current directory; checkpoints under runs/ are written by `srdistill train` of their recipe.",
        )
