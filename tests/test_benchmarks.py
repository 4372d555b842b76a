"""The speed benchmark runs end to end and reports every number it promises (values are not judged)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


def train_speed(fmnist_root: Path, out: Path, *extra: str) -> list[str]:
    """benchmarks/train_speed.py on the quickstart preset, 2 steps of 4, one round, on the CPU."""
    script = str(ROOT / "benchmarks" / "train_speed.py")
    return [
        sys.executable,
        script,
        "--preset",
        "quickstart",
        "--steps",
        "2",
        "--batch",
        "4",
        "--rounds",
        "1",
        "--device",
        "cpu",
        "--set",
        f"data.root={fmnist_root}",
        *extra,
        "--json",
        str(out),
    ]


def test_train_speed_reports_both_loops_flops_and_ratios(fmnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "speed.json"
    command = train_speed(fmnist_root, out)
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["peak_flops"] > 0 and report["peak_dtype"] == "float32"
    (preset,) = report["presets"]
    assert preset["preset"] == "quickstart" and preset["batch"] == 4
    loops = {"hand_train", "hand_eval", "srdistill_train", "srdistill_eval", "plain_train"}
    assert set(preset["images_per_s"]) == loops
    assert all(v["median"] > 0 for v in preset["images_per_s"].values())
    # RRDB 32/2/16 on 9×9 plus test_resnet on 28×28: a fraction of a GFLOP per image, backward included
    assert 0.05 < preset["train_gflop_per_image"] < 2
    assert preset["eval_gflop_per_image"] < preset["train_gflop_per_image"]
    assert preset["train_ratio"] > 0 and 0 < preset["train_mfu"] < 1
    assert "train: hand" in proc.stdout and "MFU" in proc.stdout


def test_upscale_speed_reports_seconds_per_megapixel_and_peak_memory(tmp_path: Path) -> None:
    from srdistill.compat.basicsr import rrdbnet_class

    checkpoint = tmp_path / "tiny_rgb.pth"
    torch.save(
        {"params_ema": rrdbnet_class()(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=4).state_dict()}, checkpoint
    )
    out = tmp_path / "upscale.json"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "upscale_speed.py"),
        "--checkpoint",
        str(checkpoint),
        "--tiles",
        "auto,128",
        "--device",
        "cpu",
        "--json",
        str(out),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and report["megapixels"] == pytest.approx(0.911, abs=0.001)
    assert set(report["runs"]) == {"fp32 auto", "fp32 128"}
    assert report["runs"]["fp32 128"]["tile"] == 128 and report["runs"]["fp32 auto"]["tile"] >= 32
    for row in report["runs"].values():
        assert row["s_per_mp"] == pytest.approx(row["seconds"] / report["megapixels"])
        assert row["peak_gib"] > 0 and row["psnr_vs_fp32_db"] == float("inf")  # fp32 against itself
    assert "s per input megapixel" in proc.stdout
    command[-2:] = ["--precisions", "fp32,bf16", "--crop", "24", "--tiles", "64", "--json", str(out)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert set(report["runs"]) == {"fp32 64", "bf16 64"} and report["megapixels"] == pytest.approx(4 * 24 * 24 / 1e6)
    assert 20 < report["runs"]["bf16 64"]["psnr_vs_fp32_db"] < float("inf")


@pytest.mark.slow
def test_train_speed_compiles_both_loops_and_reports_variants(fmnist_root: Path, tmp_path: Path) -> None:
    """Regional compile for the trainer and the hand-written loop alike; a variant gets its MFU and warm-up."""
    out = tmp_path / "speed.json"
    command = train_speed(fmnist_root, out, "--set", "runtime.compile=regional", "--variants", "deterministic")
    proc = subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (preset,) = json.loads(out.read_text())["presets"]
    variant = preset["variants"]["deterministic"]
    assert variant["median"] > 0 and 0 < variant["mfu"] < 1 and "first_epoch_extra_s" in variant
    assert set(preset["first_epoch_extra_s"]) == {"srdistill_train", "deterministic"}
    assert "variant deterministic" in proc.stdout


def test_jpeg_draft_reports_pixel_changes_rates_and_agreement(tmp_path: Path) -> None:
    import timm

    weights = tmp_path / "resnet50.pth"  # random: exercises the agreement, says nothing of its value
    torch.save(timm.create_model("resnet50", pretrained=False).state_dict(), weights)
    out = tmp_path / "draft.json"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "jpeg_draft.py"),
        "--sides",
        "600",
        "--teacher-weights",
        str(weights),
        "--json",
        str(out),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["images"] == 18 and 0 < report["share_of_pixels_changed"] <= 1
    assert 0 < report["mean_abs_grey_levels"] <= report["largest_abs_grey_levels"]
    assert report["psnr_db_worst"] <= report["psnr_db_median"] < float("inf")
    assert set(report["images_per_s_per_core"]) == {"full", "draft"}
    assert 0 <= report["teacher_top1_agreement"] <= 1


def test_the_paper_recipes_decode_jpegs_in_full() -> None:
    from srdistill.recipe.loading import read_yaml

    for name in ("darionet_imagenet.yaml", "darionet_imagenet_judges.yaml"):
        assert read_yaml(ROOT / "recipes" / name)["data"]["jpeg_draft"] is False


def test_profile_step_splits_a_step_by_family(fmnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "profile.json"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "profile_step.py"),
        "--preset",
        "quickstart",
        "--device",
        "cpu",
        "--steps",
        "1",
        "--warmup",
        "1",
        "--batch",
        "4",
        "--set",
        f"data.root={fmnist_root}",
        "--json",
        str(out),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = report["ms_per_step"]
    families = [
        "RRDB convolutions (3×3)",
        "RRDB concatenations",
        "RRDB LeakyReLU",
        "optimizer",
        "teacher (ResNet50 or the recipe's)",
        "resizes (degradation, SR to original, teacher input)",
    ]
    for family in families:
        assert rows[family] > 0, family
    # the families split the operators' own time, which the step's wall time bounds
    assert sum(rows.values()) <= report["wall_ms_per_step"] * 1.05


def test_matlab_resize_reports_the_difference_and_both_times() -> None:
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "matlab_resize.py"),
        "--batch",
        "2",
        "--side",
        "32",
        "--rounds",
        "1",
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "→ (11, 11): max |Δ|" in proc.stdout and "srdistill (batched matrices)" in proc.stdout


def test_basicsr_train_compare_times_both_loops(tmp_path: Path) -> None:
    out = tmp_path / "basicsr.json"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "basicsr_train_compare.py"),
        "--photos",
        "8",
        "--side",
        "64",
        "--crop",
        "32",
        "--crops",
        "4",
        "--batch",
        "4",
        "--rounds",
        "1",
        "--num-feat",
        "8",
        "--num-block",
        "1",
        "--grow",
        "4",
        "--device",
        "cpu",
        "--json",
        str(out),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["basicsr_images_per_s"][0] > 0 and report["srdistill_images_per_s"][0] > 0 and report["ratio"] > 0
    assert "srdistill / BasicSR" in proc.stdout
