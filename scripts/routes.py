"""Which route gets 9×9 Fashion-MNIST images recognised best, at what cost? Every route, for each seed:

    the teacher (recipes/fmnist_teacher.yaml), then
    SR for the frozen teacher: a pixel-trained RRDB, DarioNet, DarioNet + pixel;
    no SR: the teacher fine-tuned on bicubic 9×9 inputs, a classifier trained on them from scratch;
    SR and classifier trained together (SR4IR): with DarioNet's logit loss, with SR4IR's feature loss;
    then recipes/fmnist_routes.yaml compares them all on the 10,000 test images.

    python scripts/routes.py [--seeds 0 1 2] [--out runs/routes] [--judges runs/transfer]

Each seed runs in OUT/seed<N> (see scripts/seeds.py); the table of mean ± std over the seeds is
printed and written to OUT/routes.md, the numbers to OUT/routes.json. Train seconds are each
route's own runs (the teacher's, shared by all, is listed apart), on the machine that ran it.
With --judges (the folder scripts/transfer.py wrote, same seeds), that seed's ConvNeXt and ViT
also judge every SR method: does SR trained with one classifier help classifiers it never saw?
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml
from seeds import RECIPES, ROOT, Step, differs, run_seed, shown

STEPS = [
    Step("teacher", "train", "fmnist_teacher.yaml"),
    Step("pixel student", "train", "fmnist_pixel.yaml"),
    Step("DarioNet", "train", "fmnist_darionet.yaml"),
    Step("DarioNet + pixel", "train", "fmnist_darionet_pixel.yaml"),
    Step("classifier fine-tuned on LR", "train", "fmnist_lr_finetune.yaml"),
    Step("classifier from scratch on LR", "train", "fmnist_lr_scratch.yaml"),
    Step("joint, logit loss", "train", "fmnist_joint.yaml"),
    Step("joint, feature loss", "train", "fmnist_joint_feature.yaml"),
    Step("compare", "compare", "fmnist_routes.yaml", ["--json", "runs/fmnist_routes/compare.json"]),
]
#: judges from scripts/transfer.py's runs: families the routes' classifiers are not
JUDGES = ("convnext", "vit")
#: route -> what the README calls it
NAMES = {
    "original": "original classifier on originals (the ceiling)",
    "bilinear": "bilinear → classifier",
    "bicubic": "bicubic → classifier",
    "lr_finetune": "bicubic → classifier fine-tuned on LR",
    "lr_scratch": "bicubic → classifier trained on LR from scratch",
    "rrdb_pixel": "pixel-trained SR → classifier",
    "darionet": "DarioNet SR → classifier",
    "darionet_pixel": "DarioNet + pixel SR → classifier",
    "joint_sr": "joint (logit) SR → original classifier",
    "joint_feature_sr": "joint (feature) SR → original classifier",
    "joint": "joint (logit): SR → its own classifier",
    "joint_feature": "joint (feature): SR → its own classifier",
}


def table(per_seed: list[list[dict]]) -> tuple[str, dict[str, dict[str, list]]]:  # type: ignore[type-arg]
    """The markdown table of mean ± std per route, and the per-route values it was made from."""
    keys = ("top1", "recovered", "top1_original", "psnr", "train_seconds")
    values: dict[str, dict[str, list]] = {}  # type: ignore[type-arg]
    for routes in per_seed:
        for r in routes:
            for k in keys:
                values.setdefault(r["route"], {key: [] for key in keys})[k].append(r[k])
    lines = [
        "| route | top-1 (%) | recovered (%) | top-1 on originals (%) | PSNR (dB) | train s |",
        "|---|---|---|---|---|---|",
    ]
    order = [name for name in NAMES if name in values] + [name for name in values if name not in NAMES]
    for name in order:
        v = values[name]
        psnr = shown(v["psnr"]) if name != "original" else "∞"
        lines.append(
            f"| {NAMES.get(name, name)} | {shown(v['top1'], 100)} | {shown(v['recovered'], 100, 1)} | "
            f"{shown(v['top1_original'], 100)} | {psnr} | {shown(v['train_seconds'], 1, 0)} |"
        )
    return "\n".join(lines), values


def judge_args(transfer_seed: Path) -> list[str]:
    """``--judge`` arguments for the transfer experiment's ConvNeXt and ViT of one seed (their specs
    as recipes/fmnist_transfer_compare.yaml gives them, weights from ``transfer_seed``)."""
    recipe = yaml.safe_load((RECIPES / "fmnist_transfer_compare.yaml").read_text())
    args = []
    for judge in recipe["compare"]["judges"]:
        if judge["name"] in JUDGES:
            weights = (transfer_seed / judge["teacher"]["weights"]).resolve()
            if not weights.is_file():
                raise SystemExit(f"{weights} is missing: run scripts/transfer.py for this seed first")
            spec = {**judge["teacher"], "weights": str(weights)}
            args += ["--judge", f"{judge['name']}={yaml.safe_dump(spec, default_flow_style=True).strip()}"]
    return args


def judged(per_seed: list[dict]) -> str:  # type: ignore[type-arg]
    """The judges matrix, mean ± std of top-1 (%) over the seeds, one row per SR method."""
    values: dict[str, dict[str, list[float]]] = {}
    for judges in per_seed:
        for judge in JUDGES:
            for method, row in judges[judge].items():
                values.setdefault(method, {j: [] for j in JUDGES})[judge].append(row["top1"])
    lines = ["| SR method, under the original classifier's rival families | ConvNeXt | ViT |", "|---|---|---|"]
    for method, by in values.items():
        lines.append(f"| {method} | {shown(by['convnext'], 100)} | {shown(by['vit'], 100)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("runs/routes"))
    parser.add_argument("--judges", type=Path, help="scripts/transfer.py's output folder: its judges join compare")
    parser.add_argument("--srdistill", default=str(ROOT / ".venv" / "bin" / "srdistill"))
    args = parser.parse_args()
    per_seed, per_seed_judges, times, teacher_seconds = [], [], {}, []
    for seed in args.seeds:
        folder = args.out / f"seed{seed}"
        steps = STEPS
        if args.judges is not None:
            compare = STEPS[-1]
            extra = compare.extra + judge_args(args.judges / f"seed{seed}")
            steps = [*STEPS[:-1], Step(compare.label, compare.command, compare.recipe, extra)]
        times[seed] = run_seed(args.srdistill, seed, folder, steps)
        compared = json.loads((folder / "runs/fmnist_routes/compare.json").read_text())
        per_seed.append(compared["routes"])
        per_seed_judges.append(compared["judges"])
        teacher_seconds.append(json.loads((folder / "runs/fmnist_teacher/summary.json").read_text())["train_seconds"])
    text, values = table(per_seed)
    best = max((n for n in values if n != "original"), key=lambda n: sum(values[n]["top1"]))
    rivals = [n for n in values if n not in ("original", best)]
    beaten = [n for n in rivals if differs(values[best]["top1"], values[n]["top1"])]
    notes = [
        f"seeds {', '.join(map(str, args.seeds))}; mean ± sample std over the seeds. The teacher's own training, "
        f"shared by every route, took {shown(teacher_seconds, 1, 0)} s.",
        f"best top-1: {NAMES.get(best, best)}; ahead by more than the spread (gap of the means > the two stds "
        f"added) of: {', '.join(NAMES.get(n, n) for n in beaten) or 'none'}."
        if len(args.seeds) > 1
        else f"best top-1: {NAMES.get(best, best)} (one seed: no spread to compare with).",
    ]
    report = text + "\n\n" + "\n".join(notes) + "\n"
    if args.judges is not None:
        report += "\njudges from " + str(args.judges) + ", top-1 (%):\n\n" + judged(per_seed_judges) + "\n"
    print("\n" + report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "routes.md").write_text(report, encoding="utf-8")
    data = {"seeds": args.seeds, "routes": values, "step_seconds": times, "teacher_seconds": teacher_seconds}
    (args.out / "routes.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
