"""Does the gain transfer? For each seed: fit three teachers of different families on Fashion-MNIST,
distil the pixel-trained student against the ResNet alone (a) and against a ResNet + ConvNeXt
ensemble (b), and with logit MSE + a pixel term at two weights; then judge every student with all
three teachers (recipes/fmnist_transfer_*.yaml).

    python scripts/transfer.py [--seeds 0 1 2] [--out runs/transfer]

Each seed runs in OUT/seed<N> (see scripts/seeds.py). Prints, and writes to OUT/transfer.md, the
judges matrix as mean ± std over the seeds, and which differences are larger than the spread.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from seeds import ROOT, Step, differs, run_seed, shown

LOGIT_1 = ["--set", "name=fmnist_transfer_pixel_logit_1", "--set", "losses.1.weight=1.0"]
STEPS = [
    Step("teacher resnet", "train", "fmnist_transfer_resnet.yaml"),
    Step("teacher convnext", "train", "fmnist_transfer_convnext.yaml"),
    Step("teacher vit", "train", "fmnist_transfer_vit.yaml"),
    Step("pixel student", "train", "fmnist_transfer_pixel.yaml"),
    Step("(a) distil vs ResNet", "train", "fmnist_transfer_distil_resnet.yaml"),
    Step("(b) distil vs ResNet+ConvNeXt", "train", "fmnist_transfer_distil_ensemble.yaml"),
    Step("logit + 4·pixel", "train", "fmnist_transfer_pixel_logit.yaml"),
    Step("logit + 1·pixel", "train", "fmnist_transfer_pixel_logit.yaml", LOGIT_1),
    Step("compare with 3 judges", "compare", "fmnist_transfer_compare.yaml",
         ["--json", "runs/fmnist_transfer_compare/compare.json"]),
]  # fmt: skip
JUDGES = ("resnet", "convnext", "vit")
NAMES = {"distil_resnet": "(a) distil vs ResNet", "distil_ensemble": "(b) distil vs ResNet + ConvNeXt",
         "pixel_logit_1": "logit + 1·pixel", "pixel_logit_4": "logit + 4·pixel", "pixel": "pixel (L1)"}  # fmt: skip
#: the comparisons the README's claims rest on: (row, row it is compared with)
CLAIMS = [("distil_resnet", "pixel"), ("distil_ensemble", "distil_resnet"), ("distil_ensemble", "pixel"),
          ("pixel_logit_4", "distil_resnet"), ("pixel_logit_1", "distil_resnet")]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("runs/transfer"))
    parser.add_argument("--srdistill", default=str(ROOT / ".venv" / "bin" / "srdistill"))
    args = parser.parse_args()
    top1: dict[str, dict[str, list[float]]] = {}
    psnr: dict[str, list[float]] = {}
    times = {}
    for seed in args.seeds:
        folder = args.out / f"seed{seed}"
        times[seed] = run_seed(args.srdistill, seed, folder, STEPS)
        data = json.loads((folder / "runs/fmnist_transfer_compare/compare.json").read_text())
        for judge in JUDGES:
            for method, row in data["judges"][judge].items():
                top1.setdefault(method, {j: [] for j in JUDGES})[judge].append(row["top1"])
        for row in data["rows"]:
            psnr.setdefault(row["method"], []).append(row["psnr"] if row["psnr"] is not None else float("inf"))
    lines = ["| method | ResNet | ConvNeXt | ViT (never a teacher) | PSNR (dB) |", "|---|---|---|---|---|"]
    for method, by in top1.items():
        cells = [shown(by[j], 100) for j in JUDGES]
        lines.append(f"| {NAMES.get(method, method)} | {' | '.join(cells)} | {shown(psnr[method])} |")
    verdicts = []
    for a, b in CLAIMS:
        for judge in JUDGES:
            gap = (sum(top1[a][judge]) - sum(top1[b][judge])) / len(top1[a][judge]) * 100
            if len(args.seeds) < 2:
                real = "one seed: no spread to compare with"
            else:
                real = "larger than the spread" if differs(top1[a][judge], top1[b][judge]) else "within the spread"
            verdicts.append(f"- {NAMES.get(a, a)} vs {NAMES.get(b, b)}, {judge}: {gap:+.2f} points ({real})")
    report = (f"top-1 (%) on the 10,000 test images, mean ± std over seeds {', '.join(map(str, args.seeds))}\n\n"
              + "\n".join(lines) + "\n\n" + "\n".join(verdicts) + "\n")  # fmt: skip
    print("\n" + report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "transfer.md").write_text(report, encoding="utf-8")
    (args.out / "transfer.json").write_text(json.dumps({"top1": top1, "psnr": psnr, "step_seconds": times},
                                                       indent=2) + "\n", encoding="utf-8")  # fmt: skip


if __name__ == "__main__":
    main()
