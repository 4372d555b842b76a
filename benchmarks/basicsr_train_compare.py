"""Training speed against BasicSR's own: a pixel-trained RRDB, the same network, crops, batch and optimizer.

    .venv/bin/python benchmarks/basicsr_train_compare.py [--photos 8] [--side 256] [--crop 64] [--crops 8]
        [--batch 16] [--rounds 3] [--num-feat 32] [--num-block 2] [--grow 16] [--device auto] [--json PATH]

On a folder of generated photos (smooth random colour fields, PNG) and their MATLAB-imresize ×0.25 copies:

(a) BasicSR, through its model API as its training script drives it: ``PairedImageDataset`` (GT and LQ read
    from the two folders, paired random crops of ``--crop`` GT pixels, no flips), a DataLoader, and
    ``SRModel`` (``update_learning_rate``, ``feed_data``, ``optimize_parameters``: L1 and Adam);
(b) srdistill's pixel fit (``srdistill train``): the GT folder as a ``photo_folder`` with random crops, the
    LR made on the fly by ``kernel: matlab`` ×0.25, the same RRDB, L1 and Adam; ``train_images_per_s`` of
    its second epoch from ``metrics.csv`` (its first epoch warms up; validation is not in it).

Both see ``photos × crops`` crops an epoch in batches of ``--batch``. Rounds alternate (a) and (b) in one
process, and the ratio is the median of per-round ratios, so a machine whose speed drifts moves both alike.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from srdistill.compat.basicsr import install_torchvision_shim
from srdistill.degradations.matlab import imresize
from srdistill.engine.devices import select_device, synchronize
from srdistill.engine.train import train
from srdistill.recipe.loading import validate_recipe


def make_photos(folder: Path, count: int, side: int) -> tuple[Path, Path]:
    """``count`` smooth colour fields as GT PNGs, and their MATLAB-imresize ×0.25 copies as LQ PNGs."""
    from PIL import Image

    gt, lq = folder / "gt", folder / "lq"
    gt.mkdir(parents=True)
    lq.mkdir()
    rng = torch.Generator().manual_seed(0)
    for i in range(count):
        coarse = torch.rand(1, 3, side // 16, side // 16, generator=rng)
        image = torch.nn.functional.interpolate(coarse, (side, side), mode="bicubic").clamp(0, 1)
        image = (image + 0.05 * torch.rand(image.shape, generator=rng)).clamp(0, 1)
        small = imresize(image, 0.25).clamp(0, 1)
        for tensor, where in ((image, gt), (small, lq)):
            pixels = (tensor[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
            Image.fromarray(np.ascontiguousarray(pixels)).save(where / f"{i:04d}.png")
    return gt, lq


def basicsr_epoch(args: argparse.Namespace, gt: Path, lq: Path, device: torch.device) -> float:
    """Images per second of BasicSR's second epoch (its first warms up)."""
    install_torchvision_shim()
    from basicsr.data.paired_image_dataset import PairedImageDataset
    from basicsr.models.sr_model import SRModel

    opt: dict[str, Any] = {
        "num_gpu": 1 if device.type == "cuda" else 0,
        "is_train": True,
        "dist": False,
        "path": {},
        "network_g": {
            "type": "RRDBNet",
            "num_in_ch": 3,
            "num_out_ch": 3,
            "num_feat": args.num_feat,
            "num_block": args.num_block,
            "num_grow_ch": args.grow,
            "scale": 4,
        },
        "train": {
            "optim_g": {"type": "Adam", "lr": 2e-4, "weight_decay": 0, "betas": [0.9, 0.99]},
            "scheduler": {"type": "MultiStepLR", "milestones": [10**9], "gamma": 0.5},
            "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0, "reduction": "mean"},
        },
    }
    model = SRModel(opt)
    data = PairedImageDataset(
        {
            "dataroot_gt": str(gt),
            "dataroot_lq": str(lq),
            "io_backend": {"type": "disk"},
            "phase": "train",
            "gt_size": args.crop,
            "scale": 4,
            "use_hflip": False,
            "use_rot": False,
        }
    )
    repeated = torch.utils.data.Subset(data, [i % len(data) for i in range(len(data) * args.crops)])
    loader = torch.utils.data.DataLoader(repeated, batch_size=args.batch, shuffle=True, drop_last=True)
    step, rate = 0, 0.0
    for _ in range(2):
        start, images = time.perf_counter(), 0
        for batch in loader:
            step += 1
            model.update_learning_rate(step, warmup_iter=-1)
            model.feed_data(batch)
            model.optimize_parameters(step)
            images += len(batch["gt"])
        synchronize(device)
        rate = images / (time.perf_counter() - start)
    return rate


def srdistill_epoch(args: argparse.Namespace, gt: Path, folder: Path, device: torch.device) -> float:
    """``train_images_per_s`` of the second epoch of a real ``srdistill train`` pixel fit."""
    run = folder / f"run-{time.monotonic_ns()}"
    raw = {
        "name": "basicsr_compare",
        "device": str(device),
        "run": {"dir": str(run)},
        "data": {
            "type": "photo_folder",
            "root": str(gt),
            "val_fraction": 0.1,
            "test_fraction": 0.1,
            "multiple": 4,
            "train_crop": args.crop,
            "crops_per_image": args.crops,
            "channels": 3,
        },
        "degradation": {"type": "bicubic", "factor": 0.25, "kernel": "matlab"},
        "teacher": {"type": "timm", "model": "test_resnet", "num_classes": 10, "input_size": 64, "crop_pct": 1.0},
        "student": {"type": "rrdb", "num_feat": args.num_feat, "num_block": args.num_block, "num_grow_ch": args.grow},
        "losses": [{"type": "pixel_l1"}],
        "train": {
            "epochs": 2,
            "batch_size": args.batch,
            "optimizer": {"name": "adam", "lr": 2e-4},
            "scheduler": {"name": "none"},
            "monitor": "psnr",
            "val_batch_size": 1,
            "log_every": 10**6,
            "tensorboard": False,
            "checkpoint_minutes": 0,
        },
        "compare": {"metrics": ["psnr"]},
    }
    train(validate_recipe(raw), Console(quiet=True))
    with (run / "metrics.csv").open() as f:
        return float(list(csv.DictReader(f))[1]["train_images_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in (
        ("photos", 8),
        ("side", 256),
        ("crop", 64),
        ("crops", 8),
        ("batch", 16),
        ("rounds", 3),
        ("num-feat", 32),
        ("num-block", 2),
        ("grow", 16),
    ):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    device = select_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        gt, lq = make_photos(folder, args.photos, args.side)
        ours, theirs = [], []
        for _ in range(args.rounds):
            theirs.append(basicsr_epoch(args, gt, lq, device))
            ours.append(srdistill_epoch(args, gt, folder, device))
    ratio = statistics.median(o / t for o, t in zip(ours, theirs, strict=True))
    report = {
        "device": str(device),
        "torch": torch.__version__,
        "settings": vars(args) | {"json": None},
        "basicsr_images_per_s": theirs,
        "srdistill_images_per_s": ours,
        "ratio": ratio,
    }
    print(f"RRDB {args.num_feat}/{args.num_block}/{args.grow}, {args.crop}² crops, batch {args.batch}, {device}:")
    print(f"  BasicSR   {statistics.median(theirs):8.1f} images/s  (rounds: {', '.join(f'{v:.1f}' for v in theirs)})")
    print(f"  srdistill {statistics.median(ours):8.1f} images/s  (rounds: {', '.join(f'{v:.1f}' for v in ours)})")
    print(f"  srdistill / BasicSR: {ratio:.3f}× (median of per-round ratios)")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
