"""srdistill's MATLAB imresize (kernel: matlab) against basicsr's own: the largest difference, and the time of
one batch, in interleaved rounds on this machine.

    .venv/bin/python benchmarks/matlab_resize.py [--batch 16] [--side 256] [--scale 0.32] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from srdistill.compat.basicsr import matlab_functions
from srdistill.degradations.matlab import imresize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--scale", type=float, default=0.32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    images = torch.rand(args.batch, 3, args.side, args.side, generator=torch.Generator().manual_seed(0))
    basicsr = matlab_functions().imresize
    imresize(images[:1], args.scale)  # the weight matrices, made once per size
    ours_s, theirs_s = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        ours = imresize(images, args.scale)
        ours_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = torch.stack([basicsr(img, args.scale) for img in images])
        theirs_s.append(time.perf_counter() - start)
    diff = float((ours - theirs).abs().max()) * 255
    print(f"{args.batch}×3×{args.side}² at ×{args.scale} → {tuple(ours.shape[-2:])}: max |Δ| {diff:.2e}/255")
    print(
        f"srdistill (batched matrices) {statistics.median(ours_s) * 1e3:.1f} ms, basicsr (per image and row) "
        f"{statistics.median(theirs_s) * 1e3:.1f} ms, median of {args.rounds} rounds"
    )


if __name__ == "__main__":
    main()
