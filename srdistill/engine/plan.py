"""``srdistill train --dry-run``: what a recipe builds, its sizes and its cost, without training."""

from __future__ import annotations

import torch
from rich.console import Group
from rich.table import Table
from torch import nn

from srdistill.engine.build import Parts
from srdistill.engine.cost import (
    classifier_images,
    classifier_step_flops,
    count_flops,
    low_res,
    on_meta,
    student_step_flops,
)
from srdistill.recipe.schema import Recipe


def params(module: nn.Module | None) -> tuple[int, int]:
    if module is None:
        return 0, 0
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return total, trainable


def describe(recipe: Recipe, parts: Parts) -> Group:
    """Tables of the components and of every stage's size and cost, for one image."""
    info = parts.data.info
    c, (h, w) = info.channels, info.hr_size
    fit_student = recipe.trains_student
    teacher = on_meta(parts.teacher).eval()
    if fit_student:  # frozen while the student trains (in a joint fit too): no weight gradients to count
        teacher.requires_grad_(False)
    student = on_meta(parts.student).eval() if parts.student is not None else None

    hr = torch.zeros(1, c, h, w, device="meta")
    lr = low_res(parts, hr)

    stages = Table(title="Stages (one image)", title_justify="left")
    for col in ("stage", "shape", "GFLOP"):
        stages.add_column(col, justify="left" if col == "stage" else "right")
    stages.add_row("original (HR)", _shape(hr), "")
    if student is not None:
        stages.add_row(f"degradation {recipe.degradation.type}", _shape(lr), "")
        with torch.no_grad():
            raw = student.upscale(lr)
        gflop = count_flops(lambda: student.upscale(lr)) / 1e9
        stages.add_row(f"student {recipe.student.type} network", _shape(raw), f"{gflop:.3g}")  # type: ignore[union-attr]
        stages.add_row(f"resize ({student.mode}) → SR", _shape(hr), "")
    inputs = getattr(recipe.train, "inputs", "original")
    if student is None and inputs != "original":  # a classifier fitted on what it sees without SR
        stages.add_row(f"degradation {recipe.degradation.type}", _shape(lr), "")
        what = "every image" if inputs == "degraded" else "half the images, at random"
        stages.add_row(f"bicubic upscale → classifier input ({what})", _shape(hr), "")
    pre = teacher.preprocess(hr)
    p = parts.teacher.preprocessing()
    crop = f", centre crop {p['input_size'][0]}" if p["resize_size"] != p["input_size"] else ""
    stages.add_row(
        f"teacher preprocess: resize {p['resize_size'][0]} {p['interpolation']}{crop}, normalise", _shape(pre), ""
    )
    members = {name: on_meta(t).eval().requires_grad_(False) for name, t in parts.members.items()}
    nets = [(f"teacher {recipe.teacher.label()}", teacher)]
    nets += [(f"teachers.{t.name} {t.teacher.label()}", members[t.name]) for t in recipe.teachers]
    nets += [(f"compare.judges.{j.name} {j.teacher.label()}", on_meta(parts.judges[j.name]))
             for j in recipe.compare.judges if j.name in parts.judges]  # fmt: skip
    for title, net in nets:
        with torch.no_grad():
            logits = net(hr)
        stages.add_row(title, _shape(logits), f"{count_flops(lambda net=net: net(hr)) / 1e9:.3g}")
    if fit_student and parts.loss is not None:
        through = f"{1 + len(members)} teacher(s)" if parts.loss.needs_teacher else "no teacher"
        step = student_step_flops(recipe, parts) / 1e9
        stages.add_row(f"training step (student fwd+bwd, {through})", "", f"{step:.3g}")
    if recipe.trains_classifier:  # a teacher fit's step, or a joint fit's second update
        k = classifier_images(recipe)
        what = (
            "teacher fwd+bwd"
            if recipe.train.fit == "teacher"
            else f"classifier fwd+bwd on {k} images: SR, original, mix"
        )
        stages.add_row(f"training step ({what})", "", f"{classifier_step_flops(recipe, parts) / 1e9:.3g}")

    comps = Table(title="Components", title_justify="left")
    comps.caption = "state MiB: weights, and for a trained network also its gradients and Adam's two moments"
    for col in ("section", "type", "parameters", "trainable", "weights MiB", "state MiB"):
        comps.add_column(col, justify="left" if col in ("section", "type") else "right")
    trained = [m for m, on in ((parts.student, fit_student), (parts.teacher, recipe.trains_classifier)) if on]
    sections = [("teacher", parts.teacher, recipe.teacher)]
    sections += [(f"teachers.{t.name}", parts.members[t.name], t.teacher) for t in recipe.teachers]
    sections += [(f"compare.judges.{j.name}", parts.judges[j.name], j.teacher) for j in recipe.compare.judges
                 if j.name in parts.judges]  # fmt: skip
    for section, module, cfg in [*sections, ("student", parts.student, recipe.student)]:
        if cfg is None:
            continue
        total, _ = params(module)
        trains = any(module is m for m in trained)
        size = weight_bytes(module) / 2**20
        state = size + (3 * total * 4 / 2**20 if trains else 0.0)
        comps.add_row(section, cfg.type, f"{total:,}", f"{total if trains else 0:,}", f"{size:.1f}", f"{state:.1f}")
    comps.add_row("degradation", recipe.degradation.type, "", "")
    if parts.loss is not None:
        terms = " + ".join(f"{wt:g}·{n}" for n, wt in zip(parts.loss.names, parts.loss.weights, strict=True))
        comps.add_row("losses", terms, "", "")

    sizes = parts.data.sizes()
    data = Table(title="Data", title_justify="left")
    for col in ("data set", "classes", "HR size", "train", "val", "test"):
        data.add_column(col, justify="left" if col == "data set" else "right")
    data.add_row(
        recipe.data.type,
        str(info.num_classes),
        f"{c}×{h}×{w}",
        *(f"{sizes[s]:,}" for s in ("train", "val", "test")),
    )
    return Group(data, comps, stages)


def weight_bytes(module: nn.Module | None) -> int:
    """Memory of a module's parameters and buffers (what it holds on the device before any batch)."""
    if module is None:
        return 0
    return sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])


def _shape(t: torch.Tensor) -> str:
    return "×".join(str(s) for s in t.shape[1:])
