"""Where a training step's time goes: ``torch.profiler`` over srdistill's step, by kernel family.

    python benchmarks/profile_step.py [--preset paper|quickstart] [--device auto] [--steps 3]
                                      [--warmup 2] [--batch N] [--set KEY=VALUE ...] [--json PATH]
                                      [--trace PATH]

Builds the preset's recipe as ``srdistill train`` does (``benchmarks/presets.py``: the paper's
RRDB 64/23/32 and ResNet50 on generated JPEGs, or the quickstart's), runs ``--warmup`` steps, then
profiles ``--steps`` steps of the loop in ``engine/trainer.py``: forward, backward, the optimizer
step. Each operator's own time (device time on CUDA, host time on a CPU) is put in one family:
the RRDB network's convolutions, concatenations, LeakyReLUs and the rest of it; the teacher
(every operator inside it); the resizes outside both (the degradation, SR to the original's
size, the teacher's input); the optimizer; everything else (the loss, normalisation, copies).
Backward operators count where their forward operator ran. ``--trace`` also writes a Chrome
trace (chrome://tracing, Perfetto).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from presets import DEFAULTS, PRESETS
from torch import nn
from torch.autograd.profiler import record_function
from torch.profiler import ProfilerActivity, profile

from srdistill.engine.build import build
from srdistill.engine.devices import autocast, select_device, synchronize
from srdistill.engine.distributed import SINGLE
from srdistill.engine.guard import NonFiniteGuard
from srdistill.engine.loaders import make_loader
from srdistill.engine.optim import optimizer_and_scheduler
from srdistill.engine.tasks import StudentTask, TrainBatch, make_task
from srdistill.imaging import to_unit
from srdistill.recipe.loading import load_recipe

BACKWARD = "autograd::engine::evaluate_function: "
FAMILIES = {  # regular expression on an operator's name (and its backward node's) -> family
    "conv": r"conv",
    "cat": r"aten::cat\b|catbackward",
    "leaky_relu": r"leaky_?relu",
    "resize": r"upsample|interpolate",
}
LABELS = {
    ("student", "conv"): "RRDB convolutions (3×3)",
    ("student", "cat"): "RRDB concatenations",
    ("student", "leaky_relu"): "RRDB LeakyReLU",
    ("student", "resize"): "RRDB nearest upsampling",
    ("student", "other"): "RRDB other (residual adds and scaling)",
    ("outside", "resize"): "resizes (degradation, SR to original, teacher input)",
    ("outside", "conv"): "resizes (degradation, SR to original, teacher input)",  # kornia's anti-alias blur
    ("outside", "cat"): "other (loss, normalisation, copies, casts)",
    ("outside", "leaky_relu"): "other (loss, normalisation, copies, casts)",
    ("outside", "other"): "other (loss, normalisation, copies, casts)",
}


def label_region(module: nn.Module, name: str) -> None:
    """Every call of ``module`` appears in the profile as a region called ``name``."""
    open_regions: list[record_function] = []

    def enter(*_: Any) -> None:
        open_regions.append(record_function(name))
        open_regions[-1].__enter__()

    def leave(*_: Any) -> None:
        open_regions.pop().__exit__(None, None, None)

    module.register_forward_pre_hook(enter)
    module.register_forward_hook(leave)


def family(text: str) -> str:
    return next((f for f, pattern in FAMILIES.items() if re.search(pattern, text, re.IGNORECASE)), "other")


def bucket(event: Any, forward_region: dict[int, str]) -> str:
    """The table row of one operator: its region (student, teacher, optimizer, or outside) and family."""
    node, parent = "", event
    while parent is not None:
        if parent.name in ("student", "teacher"):
            region = parent.name
            break
        if parent.name.startswith("Optimizer."):
            return "optimizer"
        if parent.name.startswith(BACKWARD):
            node = parent.name
            region = forward_region.get(parent.sequence_nr, "outside")
            break
        parent = parent.cpu_parent
    else:
        region = "outside"
    if region == "teacher":
        return "teacher (ResNet50 or the recipe's)"
    return LABELS[(region, family(f"{event.name} {node}"))]


def regions_of_forward_ops(events: list[Any]) -> dict[int, str]:
    """sequence number of each forward operator inside the student or the teacher -> that region."""
    found: dict[int, str] = {}
    for event in events:
        if event.sequence_nr < 0:
            continue
        parent = event.cpu_parent
        while parent is not None and parent.name not in ("student", "teacher"):
            if parent.name.startswith(BACKWARD):
                break
            parent = parent.cpu_parent
        if parent is not None and parent.name in ("student", "teacher"):
            found.setdefault(event.sequence_nr, parent.name)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=list(PRESETS), default="paper")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=3, help="Profiled steps.")
    parser.add_argument("--warmup", type=int, default=2, help="Steps before profiling (compiling, autotuning).")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--set", action="append", default=[], help="Recipe override, e.g. runtime.amp=bf16.")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--trace", type=Path, default=None)
    args = parser.parse_args()
    device = select_device(args.device)
    batch = args.batch or DEFAULTS[(args.preset, device.type)][1]
    with tempfile.TemporaryDirectory() as tmp:
        path, overrides = PRESETS[args.preset](Path(tmp), args.steps + args.warmup, batch)
        recipe = load_recipe(path, [*overrides, f"device={device}", f"train.batch_size={batch}", *args.set])
        parts = build(recipe, "train", device)
        task = make_task(recipe, parts)
        assert isinstance(task, StudentTask) and parts.student is not None
        label_region(parts.student.net, "student")
        label_region(parts.teacher.model, "teacher")
        [network] = task.networks
        [settings] = recipe.train.networks().values()
        optimizer, _ = optimizer_and_scheduler(network.module, settings, recipe.train.epochs, args.steps + args.warmup)
        guard = NonFiniteGuard(optimizer, SINGLE, device)
        loader = make_loader(parts.data.train, batch, device=device, shuffle=True, with_index=True)
        batches = [b for _, b in zip(range(args.steps + args.warmup), loader, strict=False)]

        def step(images: torch.Tensor, labels: torch.Tensor, index: torch.Tensor) -> None:  # as in Trainer.run
            batch = TrainBatch(to_unit(images.to(device, non_blocking=True)), labels.to(device), index)
            with autocast(recipe.runtime, device):
                losses = task.forward(batch, network.name)
            skipped = guard.check(losses["loss"])
            optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            guard.step(skipped)

        task.train_mode()
        for images, labels, _, index in batches[: args.warmup]:
            step(images, labels, index)
        synchronize(device)
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        start = time.perf_counter()
        with profile(activities=activities) as prof:
            for images, labels, _, index in batches[args.warmup :]:
                step(images, labels, index)
            synchronize(device)
        wall = (time.perf_counter() - start) / args.steps
    events = list(prof.events())
    forward_region = regions_of_forward_ops(events)
    spent: dict[str, float] = defaultdict(float)
    for event in events:
        if event.device_type.name != "CPU":
            continue  # kernels count through the operator that launched them
        own = event.self_device_time_total if device.type == "cuda" else event.self_cpu_time_total
        spent[bucket(event, forward_region)] += own / 1e3 / args.steps  # ms per step
    total = sum(spent.values())
    rows = sorted(spent.items(), key=lambda kv: -kv[1])
    clock = "device" if device.type == "cuda" else "host"
    print(f"{args.preset} preset, batch {batch}, {device}: {args.steps} profiled steps, {wall * 1e3:.1f} ms per step "
          f"(wall, under the profiler); {clock} time by family, ms per step:")  # fmt: skip
    for name, ms in rows:
        print(f"  {name:<55} {ms:10.1f}  {100 * ms / total:5.1f}%")
    if args.trace:
        prof.export_chrome_trace(str(args.trace))
    if args.json:
        report = {"preset": args.preset, "device": str(device), "batch": batch, "steps": args.steps, "clock": clock,
                  "wall_ms_per_step": wall * 1e3, "ms_per_step": dict(rows), "settings": args.set}  # fmt: skip
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
