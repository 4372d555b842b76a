"""Training and evaluation speed: srdistill against a hand-written PyTorch loop and the FLOP floor.

    python benchmarks/train_speed.py [--preset quickstart|paper|all] [--steps N] [--batch N]
                                     [--rounds 3] [--device auto] [--set KEY=VALUE ...]
                                     [--variants all|NAME,...] [--json PATH]

For each preset, in one process on one device:

(a) a minimal hand-written loop for the same models (``hand_loop.py``: basicsr RRDBNet, a timm
    teacher, kornia resizes, ``torch.optim.Adam``): degrade, super-resolve, resize, the frozen
    teacher on the original (no grad) and on the SR image, logit MSE, backward, step; and an
    evaluation pass (teacher on originals and on SR, top-1);
(b) srdistill's own trainer (``srdistill train``, reading ``train_images_per_s`` of the second
    epoch from ``metrics.csv``; the first one warms up) and its evaluation pass (what
    ``compare`` runs, here with the student as the only method).

Both read the same data set object with the same batch size, loader workers and runtime switches
(channels-last, bf16, ``runtime.compile``; ``--set`` changes the recipe for both), so the ratio
(b)/(a) is what the toolkit costs or saves. A third loop, (a) in plain eager float32 (contiguous,
no autocast), is the baseline the runtime switches are measured against. FLOPs are counted with
``FlopCounterMode`` on one hand-written step; the peak is a measured matmul (float32 on CPU, bf16
on CUDA); MFU = achieved FLOP/s ÷ that peak.
``--variants`` also times the trainer with speed switches flipped (docs/benchmarks.md), with
each one's MFU and how much longer its first epoch took (compiling, autotuning). Every
loop and variant is timed once per round, rounds interleaved, and ratios are medians of per-round
ratios, so a machine whose speed drifts during the run moves all of them alike.

Presets: ``quickstart`` is recipes/fmnist_darionet.yaml on Fashion-MNIST (random weights, so
earlier runs are not needed); ``paper`` is recipes/darionet_imagenet.yaml (RRDB 64/23/32 at
82×82, ResNet50 at 224) on a generated ImageNet-style tree of 256×256 JPEGs.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from hand_loop import HandWritten, eval_epoch, loader, step_flops, timed, train_epoch
from presets import DEFAULTS, PRESETS
from rich.console import Console

from srdistill.engine.build import build
from srdistill.engine.devices import configure, select_device, synchronize
from srdistill.engine.evaluate import evaluate
from srdistill.engine.train import train
from srdistill.recipe.loading import load_recipe
from srdistill.recipe.schema import Recipe

# -- (b) srdistill ---------------------------------------------------------------------------------------


def srdistill_train(path: Path, overrides: list[str], folder: Path, steps: int) -> tuple[float, float]:
    """``train_images_per_s`` of epoch 2 of a real ``srdistill train`` run (epoch 1 warms up), and
    how many more seconds epoch 1 took (compiling, autotuning, first allocations)."""
    run = folder / f"run-{time.monotonic_ns()}"
    extra = [f"run.dir={run}", "train.epochs=2", f"train.max_steps_per_epoch={steps}",
             "train.tensorboard=false", "train.checkpoint_minutes=0"]  # fmt: skip
    recipe = load_recipe(path, [*overrides, *extra])
    train(recipe, Console(quiet=True))
    with (run / "metrics.csv").open() as f:
        first, last = (float(row["train_images_per_s"]) for row in list(csv.DictReader(f))[:2])
    images = steps * recipe.train.batch_size
    return last, images / first - images / last


def srdistill_eval_epoch(recipe: Recipe, device: torch.device, dataset: Any, batch: int) -> Callable[[], int]:
    """The evaluation pass ``compare`` runs, with the student as the only method and top-1 as the metric."""
    parts = build(recipe, "train", device)
    data = loader(dataset, batch, recipe.compare.num_workers, device, shuffle=False)

    def epoch() -> int:
        rows = evaluate(data, parts.teacher, parts.degradation, {"student": parts.student}, ("top1",), device,
                        runtime=recipe.runtime).rows  # fmt: skip
        return rows["student"].images

    return epoch


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


# -- the device --------------------------------------------------------------------------------------------


def matmul_peak(device: torch.device) -> tuple[float, str]:
    """Measured dense matmul FLOP/s: float32 on CPU, bf16 on CUDA."""
    n, dtype = (2048, torch.float32) if device.type == "cpu" else (8192, torch.bfloat16)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    reps = 10 if device.type == "cpu" else 50
    synchronize(device)
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    synchronize(device)
    return 2 * n**3 * reps / (time.perf_counter() - start), str(dtype).removeprefix("torch.")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


# -- main ---------------------------------------------------------------------------------------------------

#: the trainer's speed switches, each flipped from the recipe's setting
VARIANTS = {
    "contiguous": ["runtime.channels_last=false"],
    "bf16": ["runtime.amp=bf16"],
    "fp32": ["runtime.amp=none"],
    "regional": ["runtime.compile=regional"],
    "compile": ["runtime.compile=default"],
    "max_autotune": ["runtime.compile=max-autotune-no-cudagraphs"],
    "deterministic": ["runtime.deterministic=true"],  # no cuDNN autotuning
    "no_tf32": ["runtime.tf32=false"],
    "cache_teacher": ["runtime.cache_teacher=true"],
    "unfused": ["train.optimizer.fused=false"],  # torch's default: foreach Adam on CUDA, the for-loop on CPU
    "workers2": ["train.num_workers=2"],
}


def bench(preset: str, args: argparse.Namespace, device: torch.device, peak: float, folder: Path) -> dict[str, Any]:
    """Interleaved rounds: every loop and variant is timed once per round, so a machine that speeds
    up or slows down during the run moves all of them alike; ratios are taken within a round."""
    steps, batch = DEFAULTS[(preset, device.type)]
    steps, batch, rounds = args.steps or steps, args.batch or batch, args.rounds
    path, overrides = PRESETS[preset](folder, steps, batch)
    base = [*overrides, f"device={device}", f"train.batch_size={batch}", "train.scheduler.name=none", *args.set]
    recipe = load_recipe(path, base)
    parts = build(recipe, "train", torch.device("cpu"))
    dataset, info = parts.data.train, parts.data.info
    prep = parts.teacher.preprocessing()
    del parts
    print(f"[{preset}] {len(dataset)} training images, batch {batch}, {steps} steps per epoch, {rounds} rounds")

    hand = HandWritten(recipe, device, prep, info.num_classes, info.channels)
    plain = HandWritten(recipe, device, prep, info.num_classes, info.channels, plain=True)
    train_flops, eval_flops = step_flops(hand, dataset)
    passes = {
        "hand_train": train_epoch(hand, dataset, batch),
        "plain_train": train_epoch(plain, dataset, batch),
        "hand_eval": eval_epoch(hand, dataset, batch),
        "srdistill_eval": srdistill_eval_epoch(recipe, device, dataset, batch),
    }
    for run in passes.values():
        configure(recipe.runtime, device)  # the process-wide flags, which a variant may have changed
        timed(run, device)  # warm-up (and compiling, with runtime.compile)
    chosen = list(VARIANTS) if args.variants == "all" else [v for v in args.variants.split(",") if v]
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    variants = {name: VARIANTS[name] for name in chosen}
    speeds: dict[str, list[float]] = {name: [] for name in [*passes, "srdistill_train", *variants]}
    warmup: dict[str, list[float]] = {name: [] for name in ["srdistill_train", *variants]}
    for r in range(rounds):
        for name, run in passes.items():
            configure(recipe.runtime, device)
            speeds[name].append(timed(run, device))
        trainers = {"srdistill_train": base} | {name: [*base, *extra] for name, extra in variants.items()}
        for name, settings in trainers.items():
            try:
                rate, extra_s = srdistill_train(path, settings, folder, steps)
            except Exception as err:  # a switch this device cannot use: say so, keep going
                rate, extra_s = math.nan, math.nan
                print(f"  {name}: failed: {type(err).__name__}: {str(err).splitlines()[0][:120]}")
            speeds[name].append(rate)
            warmup[name].append(extra_s)
        print(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in speeds.items()))

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(speeds[a], speeds[b], strict=True))

    result: dict[str, Any] = {"preset": preset, "batch": batch, "steps": steps, "rounds": rounds}
    result |= {"train_gflop_per_image": train_flops / 1e9, "eval_gflop_per_image": eval_flops / 1e9}
    result["images_per_s"] = {name: summary(values) for name, values in speeds.items() if name not in variants}
    result["train_ratio"] = ratio("srdistill_train", "hand_train")
    result["eval_ratio"] = ratio("srdistill_eval", "hand_eval")
    result["speedup_vs_plain"] = ratio("srdistill_train", "plain_train")
    med = {name: v["median"] for name, v in result["images_per_s"].items()}
    result["train_mfu"] = med["srdistill_train"] * train_flops / peak
    result["hand_train_mfu"] = med["hand_train"] * train_flops / peak
    result["floor_images_per_s"] = peak / train_flops
    # epoch 1's extra seconds in round 1, when caches were cold (later rounds reuse compiled code)
    result["first_epoch_extra_s"] = {name: values[0] for name, values in warmup.items()}
    if variants:  # each switch's speed relative to the default trainer in the same round
        result["variants"] = {
            name: {**summary(speeds[name]), "vs_default": ratio(name, "srdistill_train"),
                   "mfu": statistics.median(speeds[name]) * train_flops / peak,
                   "first_epoch_extra_s": warmup[name][0]}
            for name in variants
        }  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=[*PRESETS, "all"], default="all")
    parser.add_argument("--steps", type=int, default=None, help="Timed steps per epoch (default by preset/device).")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds (medians reported).")
    parser.add_argument(
        "--variants",
        default="",
        help=f"Also time the trainer with these switches flipped: all, or some of {','.join(VARIANTS)}.",
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--set", action="append", default=[], help="Recipe override for both loops, e.g. --set runtime.amp=bf16."
    )
    args = parser.parse_args()
    device = select_device(args.device)
    peak, dtype = matmul_peak(device)
    print(f"device: {device_name(device)}; measured matmul peak {peak / 1e12:.3f} TFLOP/s ({dtype})")
    results = {"device": device_name(device), "torch": torch.__version__, "peak_flops": peak, "peak_dtype": dtype}
    results["presets"] = []
    with tempfile.TemporaryDirectory() as tmp:
        # compiled kernels go to a fresh cache, so round 1's compile seconds are those of a first run
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(Path(tmp) / "inductor")
        for preset in PRESETS if args.preset == "all" else [args.preset]:
            r = bench(preset, args, device, peak, Path(tmp))
            results["presets"].append(r)
            ips = {name: v["median"] for name, v in r["images_per_s"].items()}
            print(
                f"[{preset}] train: hand {ips['hand_train']:.2f} img/s, srdistill {ips['srdistill_train']:.2f} img/s "
                f"(ratio {r['train_ratio']:.3f}); {r['train_gflop_per_image']:.2f} GFLOP/img → MFU "
                f"{100 * r['train_mfu']:.1f}% (floor {r['floor_images_per_s']:.2f} img/s); plain fp32 eager loop "
                f"{ips['plain_train']:.2f} img/s (srdistill ×{r['speedup_vs_plain']:.2f})\n"
                f"[{preset}] eval:  hand {ips['hand_eval']:.2f} img/s, srdistill {ips['srdistill_eval']:.2f} img/s "
                f"(ratio {r['eval_ratio']:.3f}); {r['eval_gflop_per_image']:.2f} GFLOP/img"
            )
            for name, v in r.get("variants", {}).items():
                print(f"[{preset}] variant {name}: {v['median']:.2f} img/s, ×{v['vs_default']:.3f} the default, "
                      f"MFU {100 * v['mfu']:.1f}%, epoch 1 took {v['first_epoch_extra_s']:.1f} s longer")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
