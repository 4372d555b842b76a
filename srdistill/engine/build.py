"""The one builder: everything a recipe names, on its device, for training, evaluation or a plan.

It holds no rules about what is valid: :func:`build` ends with :func:`srdistill.engine.validity.check`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import torch
from torch import nn

from srdistill.catalog import catalog
from srdistill.checkpoints.student import classifier_config, load_student_checkpoint
from srdistill.data.base import DataInfo, Splits, relabel
from srdistill.engine.devices import compile_module, configure, select_device
from srdistill.engine.loaders import seed_everything
from srdistill.engine.paths import check_outputs, check_paths
from srdistill.engine.runs import BEST
from srdistill.engine.validity import check
from srdistill.errors import UserError
from srdistill.losses.base import WeightedConfig, WeightedSum
from srdistill.methods import BASELINES, RESERVED
from srdistill.recipe.schema import Recipe
from srdistill.recipe.sections import CheckpointRef, JudgeConfig
from srdistill.students.base import SuperResolver
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
    #: the ensemble's further members by name, frozen (``recipe.teachers``; train only)
    members: dict[str, Teacher] = field(default_factory=dict)
    #: compare's judges by name, frozen (evaluate only)
    judges: dict[str, Teacher] = field(default_factory=dict)
    #: the classifier of each of compare's routes, by route name, frozen (evaluate only)
    routes: dict[str, Teacher] = field(default_factory=dict)
    #: what engine.validity found worth saying but not wrong, for the caller to show
    warnings: list[str] = field(default_factory=list)


def build(recipe: Recipe, purpose: Purpose, device: torch.device | None = None, judges: bool = False) -> Parts:
    """Seed, pick the device (unless given) and build what ``recipe`` names for ``purpose``
    (and compare's judges for any purpose with ``judges``, as the dry run does to check them).

    The teacher is frozen unless the recipe fits it. Nothing is written anywhere, so a failure
    here leaves no trace. The parts are checked (:mod:`srdistill.engine.validity`) before they are returned.
    """

    check_paths(recipe, checkpoints=purpose == "evaluate")
    if purpose == "train":
        check_outputs(recipe)
    seed_everything(recipe.seed)
    device = device or select_device(recipe.device)
    configure(recipe.runtime, device)
    cat = catalog()
    data: Splits = relabel(cat.datasets.build(recipe.data), recipe.data.relabel)
    info = data.info
    degradation = cat.degradations.build(recipe.degradation).to(device)
    teacher = place(cat.teachers.build(recipe.teacher, info), recipe, device)
    if purpose == "evaluate" or not recipe.trains_classifier:
        teacher.freeze()
    parts = Parts(device, data, degradation, teacher)
    if purpose == "train" and recipe.student is not None:
        parts.student = place(cat.students.build(recipe.student, info), recipe, device)
        parts.loss = build_loss(recipe.losses, device)
        for member in recipe.teachers:
            with named(f"teachers '{member.name}'"):
                parts.members[member.name] = place(cat.teachers.build(member.teacher, info), recipe, device).freeze()
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
        for route in recipe.compare.routes:
            with named(f"compare.routes '{route.name}'"):
                cfg = classifier_config(route.classifier, recipe.teacher, cat.teachers)
                parts.routes[route.name] = place(cat.teachers.build(cfg, info), recipe, device).freeze()
    if purpose == "evaluate" or judges:
        parts.judges = {j.name: place(build_judge(j, info, device), recipe, device) for j in recipe.compare.judges}
    check(recipe, parts, purpose, judges)
    return parts


@contextmanager
def named(where: str) -> Iterator[None]:
    """A component's build error, prefixed with the recipe section it comes from."""
    try:
        yield
    except UserError as e:
        raise UserError(f"{where}: {e.problem}", e.fix) from None


def own_student(recipe: Recipe) -> list[CheckpointRef]:
    """The student the recipe's own run trained, when ``compare.checkpoints`` names none."""
    best = recipe.run_dir / BEST
    if not recipe.trains_student or not best.is_file() or recipe.name in RESERVED:
        return []
    return [CheckpointRef(name=recipe.name, path=best)]


def build_judge(cfg: JudgeConfig, info: DataInfo, device: torch.device) -> Teacher:
    """A frozen judge, its outputs mapped onto the data set's classes when it has a ``label_map``."""
    with named(f"compare.judges '{cfg.name}'"):
        judge = catalog().teachers.build(cfg.teacher, info).to(device).freeze()
    return judge if cfg.label_map is None else judge.select_classes(cfg.label_map)


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
