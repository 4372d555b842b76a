"""Training and evaluation speed: srdistill against a hand-written PyTorch loop and the FLOP floor.

    python benchmarks/train_speed.py [--preset quickstart|paper|all] [--steps N] [--batch N]
                                     [--rounds 3] [--device auto] [--set KEY=VALUE ...]
                                     [--variants all|NAME,...] [--json PATH]

For each preset, in one process on one device:

(a) a minimal hand-written loop for the same models (basicsr RRDBNet, a timm teacher, kornia
    resizes, ``torch.optim.Adam``): degrade, super-resolve, resize, the frozen teacher on the
    original (no grad) and on the SR image, logit MSE, backward, step; and an evaluation pass
    (teacher on originals and on SR, top-1);
(b) srdistill's own trainer (``srdistill train``, reading ``train_images_per_s`` of the second
    epoch from ``metrics.csv``; the first one warms up) and its evaluation pass (what
    ``compare`` runs, here with the student as the only method).

Both read the same data set object with the same batch size, loader workers and runtime switches
(channels-last, bf16; ``--set`` changes the recipe for both), so the ratio (b)/(a) is what the
toolkit costs or saves. A third loop, (a) in plain eager float32 (contiguous, no autocast),
is the baseline the runtime switches are measured against. FLOPs are
counted with ``torch.utils.flop_counter.FlopCounterMode`` on one hand-written step; the peak is
a measured matmul (float32 on CPU, bf16 on CUDA); MFU = achieved FLOP/s ÷ that peak.
``--variants`` also times the trainer with speed switches flipped (docs/benchmarks.md). Every
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
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from rich.console import Console
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from srdistill.data.base import collate
from srdistill.engine.build import build
from srdistill.engine.devices import select_device, synchronize
from srdistill.engine.evaluate import evaluate
from srdistill.engine.train import train
from srdistill.imaging import center_crop, resize, scaled_size
from srdistill.recipe.loading import load_recipe
from srdistill.recipe.schema import Recipe

ROOT = Path(__file__).resolve().parent.parent

# -- presets -------------------------------------------------------------------------------------------


def quickstart_overrides(folder: Path, steps: int, batch: int) -> tuple[Path, list[str]]:
    return ROOT / "recipes" / "fmnist_darionet.yaml", [
        "teacher.weights=null",
        "student.weights=null",
        f"data.train_size={steps * batch}",
        f"data.val_size={2 * batch}",
        f"data.test_size={steps * batch}",
    ]


def paper_overrides(folder: Path, steps: int, batch: int) -> tuple[Path, list[str]]:
    tree = folder / "imagenet"
    per_class = -(-steps * batch // 2)  # two classes: at least steps × batch images
    write_tree(tree, {"train": per_class, "val": max(2, batch)})
    return ROOT / "recipes" / "darionet_imagenet.yaml", [
        f"data.root={tree}",
        "data.train_fraction=1.0",
        "teacher.weights=null",
        "student.weights=null",
        "train.num_workers=0",  # the recipe's 8 workers would compete with the compute on a small CPU;
        "compare.num_workers=0",  # --set train.num_workers=8 on a GPU machine (both loops use it)
    ]


PRESETS: dict[str, Callable[[Path, int, int], tuple[Path, list[str]]]] = {
    "quickstart": quickstart_overrides,
    "paper": paper_overrides,
}
#: (steps, batch) by preset and device type: enough work to time, little enough to finish
DEFAULTS = {("quickstart", "cpu"): (30, 64), ("paper", "cpu"): (3, 2), ("quickstart", "cuda"): (100, 256),
            ("paper", "cuda"): (30, 32)}  # fmt: skip


def write_tree(root: Path, counts: dict[str, int]) -> None:
    """An ImageNet-style tree of 320×288 photo-like JPEGs (resized and cropped to 256 on loading)."""
    rng = np.random.default_rng(0)
    for split, count in counts.items():
        for name in ("n01440764", "n01443537"):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                base = Image.fromarray(rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)).resize((320, 288))
                noisy = np.clip(np.asarray(base, np.int16) + rng.integers(-20, 20, (288, 320, 3)), 0, 255)
                Image.fromarray(noisy.astype(np.uint8)).save(folder / f"{i}.JPEG", quality=90)


# -- (a) the hand-written loop ---------------------------------------------------------------------------


@dataclass
class HandWritten:
    """The same models and data as ``recipe``, wired by hand.

    The teacher's preprocessing numbers (resize, crop, interpolation, mean, std) are those
    srdistill resolved for the recipe (``teacher_preprocessing.json``), so both do the same work.
    """

    recipe: Recipe
    device: torch.device
    prep: dict[str, Any]
    num_classes: int
    channels: int
    plain: bool = False  # float32, contiguous, no autocast: the eager baseline, whatever the recipe says
    student: torch.nn.Module = field(init=False)
    teacher: torch.nn.Module = field(init=False)

    def __post_init__(self) -> None:
        import timm

        from srdistill.compat.basicsr import rrdbnet_class

        r, s, c = self.recipe, self.recipe.student, self.channels
        self.student = rrdbnet_class()(c, c, num_feat=s.num_feat, num_block=s.num_block, num_grow_ch=s.num_grow_ch,
                                       scale=4)  # fmt: skip
        self.teacher = timm.create_model(r.teacher.model, pretrained=False, num_classes=self.num_classes,
                                         in_chans=len(self.prep["mean"]))  # fmt: skip
        self.input_size = tuple(self.prep["input_size"])
        self.resize_size = tuple(self.prep["resize_size"])
        self.interpolation = self.prep["interpolation"]
        self.mean = torch.tensor(self.prep["mean"], device=self.device).view(1, -1, 1, 1)
        self.std = torch.tensor(self.prep["std"], device=self.device).view(1, -1, 1, 1)
        memory = torch.channels_last if r.runtime.channels_last and not self.plain else torch.contiguous_format
        self.student.to(self.device, memory_format=memory)
        self.teacher.to(self.device, memory_format=memory).eval().requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.student.parameters(), lr=r.train.optimizer.lr)

    def autocast(self) -> AbstractContextManager[object]:
        if self.recipe.runtime.amp == "bf16" and not self.plain:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1 and self.mean.shape[1] == 3:
            x = x.expand(-1, 3, -1, -1)
        x = center_crop(resize(x, self.resize_size, self.interpolation), self.input_size)
        return self.teacher((x - self.mean) / self.std)

    def super_resolve(self, hr: torch.Tensor) -> torch.Tensor:
        lr = resize(hr, scaled_size(tuple(hr.shape[-2:]), self.recipe.degradation.factor), "bicubic")
        return resize(self.student(lr), tuple(hr.shape[-2:]), "bicubic")

    def train_step(self, images: torch.Tensor) -> None:
        hr = images.to(self.device, non_blocking=True).float() / 255
        with self.autocast():
            sr = self.super_resolve(hr)
            with torch.no_grad():
                target = self.classify(hr)
            loss = F.mse_loss(self.classify(sr).float(), target.float())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    @torch.no_grad()
    def eval_step(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        hr = images.to(self.device, non_blocking=True).float() / 255
        labels = labels.to(self.device, non_blocking=True)
        with self.autocast():
            ref = self.classify(hr).argmax(1)
            sr = self.super_resolve(hr).clamp_(0, 1)
            out = self.classify(sr).argmax(1)
        return torch.stack([(ref == labels).sum(), (out == labels).sum()])


def loader(dataset: Any, batch: int, workers: int, device: torch.device, shuffle: bool) -> DataLoader:
    """A plain DataLoader with the recipe's worker count (workers kept across epochs, as srdistill does)."""
    return DataLoader(dataset, batch_size=batch, shuffle=shuffle, collate_fn=collate, drop_last=True,
                      num_workers=workers, persistent_workers=workers > 0, pin_memory=device.type == "cuda",
                      generator=torch.Generator().manual_seed(0))  # fmt: skip


def timed(run: Callable[[], int], device: torch.device) -> float:
    """Images per second of ``run()`` (which returns how many images it processed)."""
    synchronize(device)
    start = time.perf_counter()
    images = run()
    synchronize(device)
    return images / (time.perf_counter() - start)


def train_epoch(hand: HandWritten, dataset: Any, batch: int) -> Callable[[], int]:
    data = loader(dataset, batch, hand.recipe.train.num_workers, hand.device, shuffle=True)

    def epoch() -> int:
        seen = 0
        for images, _, _ in data:
            hand.train_step(images)
            seen += len(images)
        return seen

    return epoch


def eval_epoch(hand: HandWritten, dataset: Any, batch: int) -> Callable[[], int]:
    data = loader(dataset, batch, hand.recipe.compare.num_workers, hand.device, shuffle=False)

    def epoch() -> int:
        seen = 0
        for images, labels, _ in data:
            hand.eval_step(images, labels)
            seen += len(images)
        return seen

    return epoch


def step_flops(hand: HandWritten, dataset: Any) -> tuple[float, float]:
    """FLOPs per image of one training step and of one evaluation step (batch of 2)."""
    images = torch.stack([dataset[i][0] for i in range(2)])
    labels = torch.zeros(2, dtype=torch.long)
    with FlopCounterMode(display=False) as counter:
        hand.train_step(images)
    train_flops = counter.get_total_flops() / 2
    with FlopCounterMode(display=False) as counter:
        hand.eval_step(images, labels)
    return train_flops, counter.get_total_flops() / 2


# -- (b) srdistill ---------------------------------------------------------------------------------------


def srdistill_train(path: Path, overrides: list[str], folder: Path, steps: int) -> float:
    """``train_images_per_s`` of epoch 2 of a real ``srdistill train`` run (epoch 1 warms up)."""
    run = folder / f"run-{time.monotonic_ns()}"
    extra = [f"run.dir={run}", "train.epochs=2", f"train.max_steps_per_epoch={steps}",
             "train.tensorboard=false", "train.checkpoint_minutes=0"]  # fmt: skip
    train(load_recipe(path, [*overrides, *extra]), Console(quiet=True))
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    return float(rows[-1]["train_images_per_s"])


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
    "compile": ["runtime.compile=true"],
    "cache_teacher": ["runtime.cache_teacher=true"],
    "unfused": ["train.optimizer.fused=false"],
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
        timed(run, device)  # warm-up
    chosen = list(VARIANTS) if args.variants == "all" else [v for v in args.variants.split(",") if v]
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    variants = {name: VARIANTS[name] for name in chosen}
    speeds: dict[str, list[float]] = {name: [] for name in [*passes, "srdistill_train", *variants]}
    for r in range(rounds):
        for name, run in passes.items():
            speeds[name].append(timed(run, device))
        speeds["srdistill_train"].append(srdistill_train(path, base, folder, steps))
        for name, extra in variants.items():
            try:
                speeds[name].append(srdistill_train(path, [*base, *extra], folder, steps))
            except Exception as err:  # a switch this device cannot use: say so, keep going
                speeds[name].append(math.nan)
                print(f"  {name}: failed: {type(err).__name__}: {str(err).splitlines()[0][:120]}")
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
    if variants:  # each switch's speed relative to the default trainer in the same round
        result["variants"] = {name: {**summary(speeds[name]), "vs_default": ratio(name, "srdistill_train")}
                              for name in variants}  # fmt: skip
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
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
