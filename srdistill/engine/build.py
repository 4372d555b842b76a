"""The one builder: everything a recipe names, on its device, for training, evaluation or a plan."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

import torch
from torch import nn

from srdistill.catalog import catalog
from srdistill.data.base import DataInfo, Splits, relabel
from srdistill.engine.devices import compile_module, configure, select_device
from srdistill.engine.loaders import seed_everything
from srdistill.engine.runs import BEST
from srdistill.errors import UserError
from srdistill.losses.base import WeightedConfig, WeightedSum
from srdistill.methods import BASELINES, RESERVED
from srdistill.recipe.schema import CheckpointRef, JudgeConfig, Recipe, StudentTrain
from srdistill.students.base import SuperResolver
from srdistill.students.checkpoints import load_student_checkpoint
from srdistill.teachers.base import Teacher

#: train: the fit's components (and the student's loss); evaluate: the frozen teacher and every
#: method compare evaluates (baselines, then compare.checkpoints, or else the run's own student)
Purpose = Literal["train", "evaluate"]


@dataclass
class Parts:
    """Everything a recipe describes, built and on its device."""

    device: torch.device
    data: Splits
    degradation: nn.Module
    teacher: Teacher
    student: SuperResolver | None = None
    loss: WeightedSum | None = None
    #: the SR methods compared with the original, by row name (evaluate only)
    methods: dict[str, SuperResolver] = field(default_factory=dict)
    #: the ensemble's further teachers by name, frozen (``recipe.teachers``; train only)
    teachers: dict[str, Teacher] = field(default_factory=dict)
    #: compare's judges by name, frozen (evaluate only)
    judges: dict[str, Teacher] = field(default_factory=dict)


def build(recipe: Recipe, purpose: Purpose, device: torch.device | None = None, judges: bool = False) -> Parts:
    """Seed, pick the device (unless given) and build what ``recipe`` names for ``purpose``
    (and compare's judges for any purpose with ``judges``, as the dry run does to check them).

    The teacher is frozen unless the recipe fits it. Nothing is written anywhere, so a failure
    here leaves no trace.
    """
    check_paths(recipe, checkpoints=purpose == "evaluate")
    seed_everything(recipe.seed)
    device = device or select_device(recipe.device)
    configure(recipe.runtime, device)
    cat = catalog()
    data: Splits = relabel(cat.datasets.build(recipe.data), recipe.data.relabel)
    for split, size in data.sizes().items():
        if size == 0:
            raise UserError(f"The {split} split of the data set is empty.", "Check data.root and the split settings.")
    info = data.info
    degradation = cat.degradations.build(recipe.degradation).to(device)
    teacher = place(cat.teachers.build(recipe.teacher, info), recipe, device)
    fit_student = isinstance(recipe.train, StudentTrain)
    if purpose == "evaluate" or fit_student:
        teacher.freeze()
    parts = Parts(device, data, degradation, teacher)
    if purpose == "train" and recipe.student is not None:
        parts.student = place(cat.students.build(recipe.student, info), recipe, device)
        parts.loss = build_loss(recipe.losses, device)
        for term in recipe.teachers:
            try:
                extra = cat.teachers.build(term.teacher, info)
            except UserError as e:
                raise UserError(f"teachers '{term.name}': {e.problem}", e.fix) from None
            parts.teachers[term.name] = place(extra, recipe, device).freeze()
    if purpose == "evaluate":
        for name in BASELINES:
            entry = cat.students.get(name)
            assert entry.config is not None
            parts.methods[name] = entry.build(entry.config(type=name), info).to(device)
        for ref in recipe.compare.checkpoints or own_student(recipe):
            student = load_student_checkpoint(ref.path, info, recipe.student, cat.students)
            parts.methods[ref.name] = place(student, recipe, device)
        for method in parts.methods.values():
            method.eval()
    if purpose == "evaluate" or judges:
        parts.judges = {j.name: place(build_judge(j, info, device), recipe, device) for j in recipe.compare.judges}
    return parts


def own_student(recipe: Recipe) -> list[CheckpointRef]:
    """The student the recipe's own run trained, when ``compare.checkpoints`` names none."""
    best = recipe.run_dir / BEST
    if not isinstance(recipe.train, StudentTrain) or not best.is_file() or recipe.name in RESERVED:
        return []
    return [CheckpointRef(name=recipe.name, path=best)]


def build_judge(cfg: JudgeConfig, info: DataInfo, device: torch.device) -> Teacher:
    """A frozen judge whose outputs are the data set's classes, in order (through ``label_map`` if set)."""
    where = f"compare.judges '{cfg.name}'"
    try:
        judge = catalog().teachers.build(cfg.teacher, info).to(device).freeze()
    except UserError as e:
        raise UserError(f"{where}: {e.problem}", e.fix) from None
    if not judge.outputs_classes:
        raise UserError(f"{where} outputs {judge.kind} maps, not class logits.", "Judge with a classifier.")
    try:
        with torch.no_grad():
            classes = judge(torch.zeros(1, info.channels, *info.hr_size, device=device)).shape[1]
    except RuntimeError as e:  # e.g. an input too small for the network's downsampling
        raise UserError(f"{where} fails on an image: {e}", "Check its input_size and model_args.") from None
    if cfg.label_map is None:
        if classes != info.num_classes:
            raise UserError(
                f"{where} has {classes} classes but the data set has {info.num_classes}.",
                f"Give the judge a label_map: its output index for each of the {info.num_classes} data set classes "
                "(or set its num_classes if its weights are for this data set).",
            )
        return judge
    if len(cfg.label_map) != info.num_classes or max(cfg.label_map) >= classes:
        raise UserError(
            f"{where}: label_map has {len(cfg.label_map)} entries up to {max(cfg.label_map)}, but it needs one per "
            f"data set class ({info.num_classes}), each below the judge's {classes} outputs.",
            "Fix the judge's label_map.",
        )
    return judge.select_classes(cfg.label_map)


M = TypeVar("M", bound=nn.Module)


def place(module: M, recipe: Recipe, device: torch.device) -> M:
    """Move a model to the device, channels-last and compiled if the recipe asks for it."""
    if recipe.runtime.channels_last:
        module = module.to(device=device, memory_format=torch.channels_last)
    else:
        module = module.to(device)
    compile_module(module, recipe.runtime.compile)
    return module


def build_loss(configs: list[WeightedConfig], device: torch.device | None = None) -> WeightedSum | None:
    """The weighted sum of the recipe's losses; a type used twice is named ``type``, ``type_2``, …"""
    if not configs:
        return None
    seen: Counter[str] = Counter()
    terms = []
    for cfg in configs:
        seen[cfg.type] += 1
        name = cfg.type if seen[cfg.type] == 1 else f"{cfg.type}_{seen[cfg.type]}"
        terms.append((name, cfg.weight, catalog().losses.build(cfg)))
    return WeightedSum(terms).to(device) if device is not None else WeightedSum(terms)


def check_paths(recipe: Recipe, *, checkpoints: bool = False, before_training: bool = False) -> None:
    """Report every input file or folder the recipe names that does not exist, all at once.

    ``checkpoints`` adds compare's checkpoints; ``before_training`` leaves out those the recipe's
    own run will write.
    """
    missing = []
    named = [("data", recipe.data), ("teacher", recipe.teacher), ("student", recipe.student)]
    named += [(f"teachers.{i}.teacher", term.teacher) for i, term in enumerate(recipe.teachers)]
    named += [(f"losses.{i}", loss) for i, loss in enumerate(recipe.losses)]
    for section, cfg in named:
        if cfg is None:
            continue
        for key, value in cfg:
            if isinstance(value, Path) and not value.exists():
                missing.append(f"{section}.{key}: {value}")
    if checkpoints:
        for judge in recipe.compare.judges:
            missing += [
                f"compare.judges ({judge.name}).teacher.{key}: {value}"
                for key, value in judge.teacher
                if isinstance(value, Path) and not value.exists()
            ]
        own = recipe.run_dir.resolve()
        missing += [
            f"compare.checkpoints ({ref.name}): {ref.path}"
            for ref in recipe.compare.checkpoints
            if isinstance(ref.path, Path)  # a str is a release name, fetched when built
            and not ref.path.exists()
            and not (before_training and ref.path.resolve().is_relative_to(own))
        ]
    if missing:
        raise UserError(
            "The recipe names paths that do not exist:\n" + "\n".join(f"  • {m}" for m in missing),
            "Fix them in the recipe or with --set (e.g. --set data.root=/path). Relative paths start at the "
            "current directory; checkpoints under runs/ are written by `srdistill train` of their recipe.",
        )
