"""Everything about a recipe that can be checked before training, in one place.

The schema (:mod:`srdistill.recipe`) decides what the recipe's text alone decides: keys, types,
ranges, how sections fit together. What needs the built parts is decided here: the paths it
names, class counts of every classifier, the layers a loss reads, the monitor against the data's
labels and image size, what each fit needs. :func:`check` ends every :func:`~srdistill.engine.build.build`,
so ``--dry-run``, training, ``compare`` and ``report`` all stop here, with every problem at once.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from srdistill.catalog import catalog
from srdistill.engine.optim import check_optimizers
from srdistill.errors import UserError
from srdistill.losses.features import check_layers
from srdistill.recipe.schema import MAIN_TEACHER, Recipe
from srdistill.recipe.train import JointFitConfig, TeacherFitConfig
from srdistill.teachers.base import Teacher

if TYPE_CHECKING:
    from srdistill.engine.build import Parts, Purpose

MONITOR_FIX = "Choose another train.monitor for this data set (e.g. ssim or psnr)."


def check(recipe: Recipe, parts: Parts, purpose: Purpose, judges: bool = False) -> None:
    """Raise one error naming every problem found (each with its fix); return if there is none."""
    found = _splits(parts) + _classifiers(recipe, parts)
    if purpose == "train":
        found += _fit(recipe, parts) + check_optimizers(recipe.train.networks(), parts.device)
    if purpose == "evaluate" or judges:
        found += _sizes(parts, recipe.compare.metrics, "compare.metrics", "Leave {name} out of compare.metrics.")
    if len(found) == 1:
        raise found[0]
    if found:
        raise UserError(
            f"The recipe has {len(found)} problems:\n" + "\n".join(f"  • {e.problem}" for e in found),
            "\n".join(f"  • {e.fix}" for e in found if e.fix),
        )


def _splits(parts: Parts) -> list[UserError]:
    return [
        UserError(f"The {split} split of the data set is empty.", "Check data.root and the split settings.")
        for split, size in parts.data.sizes().items()
        if size == 0
    ]


def outputs(classifier: Teacher, parts: Parts) -> int:
    """How many outputs ``classifier``'s network gives for one image of the data set (before any
    ``label_map``), found by running it once on a blank image in evaluation mode."""
    info = parts.data.info
    was = classifier.training
    classifier.eval()
    try:
        with torch.no_grad():
            images = torch.zeros(1, info.channels, *info.hr_size, device=parts.device)
            return int(classifier.model(classifier.preprocess(images)).shape[1])
    finally:
        classifier.train(was)


def _classifiers(recipe: Recipe, parts: Parts) -> list[UserError]:
    """Every classifier runs on an image of the data set and gives one output per class."""
    info, found = parts.data.info, []
    named = {"teacher": parts.teacher} | {f"teachers '{n}'": m for n, m in parts.members.items()}
    maps = {j.name: j.label_map for j in recipe.compare.judges}
    named |= {f"compare.judges '{n}'": j for n, j in parts.judges.items()}
    named |= {f"compare.routes '{n}'": c for n, c in parts.routes.items()}
    for where, classifier in named.items():
        judge = where.startswith("compare.judges")
        try:
            count = outputs(classifier, parts)
        except RuntimeError as e:  # e.g. an input too small for the network's downsampling
            first = str(e).strip().splitlines()[0]
            found.append(
                UserError(f"{where} fails on an image of the data set: {first}", "Check its input_size and model_args.")
            )
            continue
        if not classifier.outputs_classes:
            if where.startswith("compare."):  # judges and routes are scored on labels
                found.append(
                    UserError(f"{where} outputs {classifier.kind} maps, not class logits.", "Use a classifier there.")
                )
            continue
        label_map = maps.get(where.split("'")[1]) if judge else None
        if label_map is not None:
            if len(label_map) != info.num_classes or max(label_map) >= count:
                found.append(
                    UserError(
                        f"{where}: label_map has {len(label_map)} entries up to {max(label_map)}, but it needs one per "
                        f"data set class ({info.num_classes}), each below the judge's {count} outputs.",
                        "Fix the judge's label_map.",
                    )
                )
        elif judge and info.labelled and count != info.num_classes:
            found.append(
                UserError(
                    f"{where} has {count} classes but the data set has {info.num_classes}.",
                    f"Give the judge a label_map: its output index for each of the {info.num_classes} data set classes "
                    "(or set its num_classes if its weights are for this data set).",
                )
            )
        elif info.labelled and count != info.num_classes and where.startswith("compare.routes"):
            found.append(
                UserError(
                    f"{where} has {count} classes but the data set has {info.num_classes}.",
                    "Give the route a classifier trained on this data set's classes.",
                )
            )
        elif info.labelled and count < info.num_classes:  # labels beyond its outputs: no metric can be taken
            found.append(
                UserError(
                    f"{where} has {count} classes but the data set has {info.num_classes}.",
                    f"Use a classifier with {info.num_classes} outputs (num_classes and weights) for this data set.",
                )
            )
        elif info.labelled and count > info.num_classes:
            parts.warnings.append(
                f"{where} has {count} outputs and the data set {info.num_classes} classes: label i is read as its "
                f"output i, right only if the data set's classes are its first {info.num_classes} (data.relabel "
                "maps them otherwise)."
            )
    return found


def _fit(recipe: Recipe, parts: Parts) -> list[UserError]:
    """What the fit needs of the parts: trainable weights, the layers its losses read, labels for its monitor."""
    from srdistill.engine.evaluate import label_free

    train = recipe.train
    labels = parts.teacher.outputs_classes and parts.data.info.labelled
    if len(parts.data.train) < train.batch_size:  # the training epoch drops a partial batch: nothing would train
        return [
            UserError(
                f"The training split ({len(parts.data.train)} images) holds less than one batch of {train.batch_size}.",
                "Lower train.batch_size or use more training images.",
            )
        ]
    if isinstance(train, TeacherFitConfig):
        return _teacher_fit(recipe, parts, train)
    found = _joint_fit(recipe, parts, train) if isinstance(train, JointFitConfig) else []
    student = parts.student
    assert student is not None and parts.loss is not None and recipe.student is not None
    if not student.trainable:
        found.append(
            UserError(
                f"Student '{recipe.student.type}' has no weights to train.",
                "Use a learned student such as rrdb; interpolation students are baselines for compare.",
            )
        )
    if parts.loss.needs_teacher and not recipe.trains_classifier and recipe.teacher.random_init():
        parts.warnings.append(
            "the teacher has no weights: the student learns from a randomly initialised classifier (teacher.weights)"
        )
    layers = parts.loss.teacher_layers
    named = {"the teacher": parts.teacher} | {f"teachers '{n}'": m for n, m in parts.members.items()}
    for who, classifier in named.items():
        try:
            check_layers(classifier.model, layers, who)
        except UserError as e:
            found.append(e)
    monitor = train.monitor_for(labels)
    dense = [n for n, t in {MAIN_TEACHER: parts.teacher, **parts.members}.items() if not t.outputs_classes]
    if not label_free([monitor]) and (dense or not labels):
        why = (
            f"{', '.join(dense)} output{'s' * (len(dense) == 1)} maps, not class logits"
            if dense
            else ("the data set has no labels")
        )
        found.append(
            UserError(
                f"train.monitor '{monitor}' needs labels, but {why}.",
                "Monitor logit_mse, agreement, psnr or ssim (logit_mse is the default without labels).",
            )
        )
    if recipe.runtime.cache_teacher:
        if isinstance(train, JointFitConfig):
            found.append(
                UserError(
                    "runtime.cache_teacher keeps a frozen teacher's logits; a joint fit trains the classifier.",
                    "Set runtime.cache_teacher: false.",
                )
            )
        elif parts.members:
            found.append(
                UserError(
                    "runtime.cache_teacher keeps one teacher's logits; teachers names an ensemble.",
                    "Set runtime.cache_teacher: false.",
                )
            )
        elif layers or not parts.teacher.outputs_classes:
            needs = (
                f"the losses need its features {list(layers)}."
                if layers
                else (f"teacher '{recipe.teacher.type}' outputs {parts.teacher.kind} maps.")
            )
            found.append(
                UserError(
                    "runtime.cache_teacher keeps the teacher's logits, but " + needs,
                    "Set runtime.cache_teacher: false.",
                )
            )
    return found + _sizes(parts, (monitor,), "train.monitor", MONITOR_FIX)


def _joint_fit(recipe: Recipe, parts: Parts, train: JointFitConfig) -> list[UserError]:
    found = _trains_with_labels(recipe, parts)
    h, w = parts.data.info.hr_size
    if train.ce.mix > 0 and (h % train.mix_grid or w % train.mix_grid):
        found.append(
            UserError(
                f"train.mix_grid {train.mix_grid} does not divide the images ({h}×{w}): CQMix patches would differ.",
                f"Use a grid that divides {math.gcd(h, w)} (e.g. {_divisors(math.gcd(h, w))}), or set train.ce.mix: 0.",
            )
        )
    assert parts.loss is not None
    if train.task_warmup_epochs and parts.loss.pixel_terms() is None:
        found.append(
            UserError(
                f"train.task_warmup_epochs is {train.task_warmup_epochs}, but every loss reads the classifier: the "
                "student would have nothing to learn from during the warm-up.",
                "Add a pixel loss (e.g. `- {type: pixel_l1}`) or set train.task_warmup_epochs: 0.",
            )
        )
    return found


def _divisors(n: int) -> str:
    return ", ".join(str(d) for d in range(2, n + 1) if n % d == 0)


def _trains_with_labels(recipe: Recipe, parts: Parts) -> list[UserError]:
    """A fit that trains the classifier needs class logits and labels."""
    if not parts.teacher.outputs_classes:
        return [
            UserError(
                f"train.fit: {recipe.train.fit} trains the classifier with labels, but teacher '{recipe.teacher.type}' "
                f"outputs {parts.teacher.kind} maps.",
                "Fit a classifier teacher, or train the student alone (train.fit: student).",
            )
        ]
    if not parts.data.info.labelled:
        fit = recipe.train.fit
        return [
            UserError(
                f"train.fit: {fit} trains the classifier with labels, but the data set has none.",
                "Use a labelled data set (class folders).",
            )
        ]
    return []


def _teacher_fit(recipe: Recipe, parts: Parts, train: TeacherFitConfig) -> list[UserError]:
    teacher, found = parts.teacher, _trains_with_labels(recipe, parts)
    if train.trainable == "head" and getattr(teacher.model, "get_classifier", None) is None:
        found.append(
            UserError(
                f"train.trainable: head needs a model with a classifier to find (timm's get_classifier); "
                f"{type(teacher.model).__name__} has none.",
                "Use train.trainable: all.",
            )
        )
    return found + _sizes(parts, (train.monitor_for(True),), "train.monitor", MONITOR_FIX)


def _sizes(parts: Parts, names: tuple[str, ...], where: str, fix: str) -> list[UserError]:
    """Metrics that need larger images than the data set's (LPIPS, through AlexNet's poolings), or files not here."""
    (h, w), found = parts.data.info.hr_size, []
    for name in dict.fromkeys(names):
        metric = catalog().metrics.get(name).build()
        if min(h, w) >= (need := metric.min_side):  # usable here: what it lacks besides, if anything
            found += metric.missing()
        else:
            found.append(
                UserError(
                    f"{where}: {name} needs images of at least {need}×{need}; this data set's are {h}×{w}.",
                    fix.format(name=name),
                )
            )
    return found
