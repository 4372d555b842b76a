"""One pass over the test split: every method's prediction for every image, and example images."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from rich.console import Console

from srdistill.data.base import DataInfo
from srdistill.engine.compare import contenders
from srdistill.engine.evaluate import ORIGINAL
from srdistill.engine.runtime import autocast, make_loader
from srdistill.imaging import to_unit
from srdistill.recipe.schema import Recipe
from srdistill.ui.progress import ProgressBar


@dataclass
class Predictions:
    """Per-image labels and each method's top-1 class on the test split, and a few images per class."""

    info: DataInfo
    methods: list[str]
    labels: torch.Tensor
    preds: dict[str, torch.Tensor]
    #: class -> up to ``examples`` images: method -> (C, H, W) in [0, 1]; "degraded" is the LR input
    examples: dict[int, list[dict[str, torch.Tensor]]] = field(default_factory=dict)


@torch.inference_mode()
def collect(recipe: Recipe, console: Console | None, examples: int = 2) -> Predictions:
    parts = contenders(recipe)
    device, data, teacher, degradation, methods = (
        parts.device, parts.data, parts.teacher, parts.degradation, parts.methods
    )  # fmt: skip
    info = data.info
    loader = make_loader(data.test, recipe.compare.batch_size, device=device, num_workers=recipe.compare.num_workers)
    labels, preds = [], {n: [] for n in [ORIGINAL, *methods]}
    found: dict[int, list[dict[str, torch.Tensor]]] = {}
    with ProgressBar(console, "report", len(loader), max(1, len(loader) // 10)) as bar:
        for step, (images, batch_labels, _bad) in enumerate(loader, 1):
            bar.update(step)
            if len(images) == 0:
                continue
            hr = to_unit(images.to(device))
            size = (hr.shape[-2], hr.shape[-1])
            lr = degradation(hr)
            outputs = {ORIGINAL: hr, **{n: m(lr, size).clamp_(0, 1) for n, m in methods.items()}}
            with autocast(recipe.runtime, device):
                for name, image in outputs.items():
                    preds[name].append(teacher(image).argmax(dim=1).cpu())
            labels.append(batch_labels)
            for i, label in enumerate(batch_labels.tolist()):
                if len(found.setdefault(label, [])) < examples:
                    found[label].append({"degraded": lr[i].cpu(), **{n: o[i].cpu() for n, o in outputs.items()}})
    return Predictions(
        info=info,
        methods=list(methods),
        labels=torch.cat(labels),
        preds={n: torch.cat(p) for n, p in preds.items()},
        examples=found,
    )
