"""One pass over the test split: every method's prediction for every image, and example images."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from rich.console import Console

from srdistill.data.base import DataInfo
from srdistill.engine.build import build
from srdistill.engine.loaders import make_loader
from srdistill.engine.sr_pass import sr_passes
from srdistill.methods import ORIGINAL
from srdistill.recipe.schema import Recipe


@dataclass
class Predictions:
    """Per-image labels and each method's top-1 class on the test split, and a few images per class."""

    info: DataInfo
    methods: list[str]
    labels: torch.Tensor
    preds: dict[str, torch.Tensor]
    #: class -> up to ``examples`` images: method -> (C, H, W) in [0, 1]; "degraded" is the LR input
    examples: dict[int, list[dict[str, torch.Tensor]]] = field(default_factory=dict)
    #: compare's judges: judge -> method -> top-1 class per image (same images as ``preds``)
    judges: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


def collect(recipe: Recipe, console: Console | None, examples: int = 2) -> Predictions:
    """Every method's top-1 class for every test image, through the one evaluation pass."""
    parts = build(recipe, "evaluate")
    info = parts.data.info
    loader = make_loader(parts.data.test, recipe.compare.batch_size, device=parts.device,
                         num_workers=recipe.compare.num_workers)  # fmt: skip
    names = [ORIGINAL, *parts.methods]
    labels, preds = [], {n: [] for n in names}
    judged: dict[str, dict[str, list[torch.Tensor]]] = {j: {n: [] for n in names} for j in parts.judges}
    found: dict[int, list[dict[str, torch.Tensor]]] = {}
    for batch in sr_passes(loader, parts.degradation, parts.teacher, parts.methods, parts.device,
                           runtime=recipe.runtime, console=console, description="report",
                           classifiers=parts.judges):  # fmt: skip
        images = {ORIGINAL: batch.hr, **batch.sr}
        for name in names:
            preds[name].append(batch.teacher[name].logits.argmax(dim=1).cpu())
            for judge, outputs in batch.classifiers.items():
                judged[judge][name].append(outputs[name].logits.argmax(dim=1).cpu())
        batch_labels = batch.labels.cpu()
        labels.append(batch_labels)
        for i, label in enumerate(batch_labels.tolist()):
            if len(found.setdefault(label, [])) < examples:
                found[label].append({"degraded": batch.lr[i].cpu(), **{n: o[i].cpu() for n, o in images.items()}})
    return Predictions(
        info=info,
        methods=list(parts.methods),
        labels=torch.cat(labels),
        preds={n: torch.cat(p) for n, p in preds.items()},
        examples=found,
        judges={j: {n: torch.cat(p) for n, p in by.items()} for j, by in judged.items()},
    )
