"""``srdistill train`` end to end: teacher fit → student pixel fit → distillation fit → compare, through the CLI.

The pipeline runs once per module (tens of seconds); the tests below inspect what it wrote.
Tests of re-running, overwriting and failing runs use their own, even smaller runs.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from srdistill.catalog import catalog
from srdistill.checkpoints import read_metadata, read_state_dict
from srdistill.engine.runs import resolved_yaml
from srdistill.recipe import load_recipe

TEACHER_TRAIN = {
    "fit": "teacher",
    "epochs": 2,
    "batch_size": 32,
    "max_steps_per_epoch": 4,
    "val_batch_size": 64,
    "log_every": 2,
    "monitor": "top1",
    "optimizer": {"name": "adamw", "lr": 2e-3},
}
METRIC_KEYS = {"top1", "top5", "ce", "logit_mse", "agreement", "psnr", "ssim", "psnr_y"}


def write(path: Path, recipe: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file of ``folder`` with its modification time and contents."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*") if p.is_file()
    }


def assert_clean_exit(result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, make_recipe, cli_class) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("pipeline")
    out: dict[str, Any] = {"base": base}
    with pytest.MonkeyPatch.context() as mp:
        cli = cli_class(mp)

        # 1. the teacher, fitted on the originals
        teacher_recipe = make_recipe(
            base,
            name="teacher",
            run={"dir": str(base / "teacher")},
            student=None,
            losses=None,
            train=TEACHER_TRAIN,
        )
        out["teacher_recipe"] = write(base / "teacher.yaml", teacher_recipe)
        out["teacher_result"] = cli("train", out["teacher_recipe"])
        teacher_best = base / "teacher" / "best.safetensors"
        teacher_section = {**teacher_recipe["teacher"], "weights": str(teacher_best)}

        # 2. the student, fitted with a pixel loss only (the stand-in for pretrained ESRGAN)
        pixel_recipe = make_recipe(
            base,
            name="pixel",
            run={"dir": str(base / "pixel")},
            teacher=teacher_section,
            losses=[{"type": "pixel_l1"}],
            train={
                "epochs": 1,
                "batch_size": 16,
                "max_steps_per_epoch": 3,
                "monitor": "psnr",
                "log_every": 1,
            },
        )
        out["pixel_recipe"] = write(base / "pixel.yaml", pixel_recipe)
        out["pixel_result"] = cli("train", out["pixel_recipe"])
        pixel_best = base / "pixel" / "best.safetensors"

        # 3. distillation: the pixel student fine-tuned through the frozen teacher
        student_section = {**pixel_recipe["student"], "weights": str(pixel_best)}
        distill_recipe = make_recipe(
            base,
            name="distill",
            run={"dir": str(base / "distill")},
            teacher=teacher_section,
            student=student_section,
            losses=[{"type": "logit_mse"}, {"type": "pixel_l1", "weight": 0.1}],
            train={"epochs": 2, "batch_size": 16, "max_steps_per_epoch": 2, "log_every": 1},
            compare={
                "batch_size": 32,
                "checkpoints": [
                    {"name": "pixel", "path": str(pixel_best)},
                    {"name": "distill", "path": str(base / "distill" / "best.safetensors")},
                ],
            },
        )
        out["distill_recipe"] = write(base / "distill.yaml", distill_recipe)

        import srdistill.engine.trainer as trainer

        built = []

        def capture(recipe, purpose, device=None):
            parts = build(recipe, purpose, device)
            built.append(parts)
            return parts

        build = trainer.build
        mp.setattr(trainer, "build", capture)
        out["distill_result"] = cli("train", out["distill_recipe"])
        out["distill_parts"] = built[0] if built else None

        # 4. the table
        out["json"] = base / "table" / "compare.json"
        out["compare_result"] = cli("compare", out["distill_recipe"], "--json", out["json"])
    return out


# -- the teacher run ---------------------------------------------------------------------------------


def test_pipeline_runs_cleanly(pipeline) -> None:
    for step in ("teacher", "pixel", "distill", "compare"):
        assert_clean_exit(pipeline[f"{step}_result"], 0)


def test_teacher_run_folder(pipeline) -> None:
    folder = pipeline["base"] / "teacher"
    assert sorted(p.name for p in folder.iterdir()) == [  # no lock file is left behind
        "best.safetensors",
        "last.safetensors",
        "metrics.csv",
        "recipe.yaml",
        "summary.json",
        "teacher_preprocessing.json",
        "tensorboard",
    ]
    assert list((folder / "tensorboard").glob("events.out.tfevents.*"))
    pre = json.loads((folder / "teacher_preprocessing.json").read_text())
    assert pre["input_size"] == [28, 28] and pre["mean"] == [0.5] and pre["interpolation"] == "bilinear"
    rows = read_csv(folder / "metrics.csv")
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert [row["step"] for row in rows] == ["4", "8"]
    for column in ("lr", "train_loss", "val_top1", "val_top5", "val_ce", "seconds", "train_images_per_s"):
        assert column in rows[0], column
    for row in rows:
        assert 0.0 <= float(row["val_top1"]) <= float(row["val_top5"]) <= 1.0
        assert math.isfinite(float(row["train_loss"]))
    assert float(rows[-1]["lr"]) < 2e-3  # the cosine schedule has decayed


def test_teacher_recipe_yaml_is_the_resolved_recipe(pipeline) -> None:
    saved = (pipeline["base"] / "teacher" / "recipe.yaml").read_text()
    recipe = load_recipe(pipeline["teacher_recipe"])
    assert saved == resolved_yaml(recipe)
    assert load_recipe(pipeline["base"] / "teacher" / "recipe.yaml").model_dump() == recipe.model_dump()
    assert "label_smoothing: 0.0" in saved  # defaults are written out


def test_teacher_summary_and_best_checkpoint(pipeline) -> None:
    folder = pipeline["base"] / "teacher"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["recipe"] == "teacher" and summary["fit"] == "teacher" and summary["monitor"] == "top1"
    assert summary["epochs"] == 2 and summary["best_epoch"] in (1, 2)
    assert Path(summary["best"]) == folder / "best.safetensors"
    rows = read_csv(folder / "metrics.csv")
    best_top1 = max(float(r["val_top1"]) for r in rows)
    assert summary["best_value"] == pytest.approx(best_top1, abs=1e-5)
    assert float(rows[summary["best_epoch"] - 1]["val_top1"]) == pytest.approx(best_top1, abs=1e-5)

    meta = read_metadata(folder / "best.safetensors")
    assert meta["role"] == "teacher" and meta["epoch"] == summary["best_epoch"] and meta["monitor"] == "top1"
    assert meta["config"]["type"] == "timm" and meta["config"]["model"] == "test_resnet"
    assert read_metadata(folder / "last.safetensors")["epoch"] == 2
    best, last = read_state_dict(folder / "best.safetensors"), read_state_dict(folder / "last.safetensors")
    assert "fc.weight" in best  # the timm model's own keys, without the Teacher wrapper
    same = all(torch.equal(best[k], last[k]) for k in best)
    assert same == (summary["best_epoch"] == 2)


# -- the student runs --------------------------------------------------------------------------------


def test_pixel_run(pipeline) -> None:
    folder = pipeline["base"] / "pixel"
    rows = read_csv(folder / "metrics.csv")
    assert len(rows) == 1
    assert {"train_pixel_l1", "train_loss", "val_psnr", "val_ssim", "val_ce_gap", "val_agreement"} <= set(rows[0])
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["monitor"] == "psnr" and summary["fit"] == "student"
    assert summary["best_value"] == pytest.approx(float(rows[0]["val_psnr"]), rel=1e-4)


def test_distill_run(pipeline) -> None:
    folder = pipeline["base"] / "distill"
    rows = read_csv(folder / "metrics.csv")
    assert len(rows) == 2
    for row in rows:
        total = float(row["train_logit_mse"]) + 0.1 * float(row["train_pixel_l1"])
        assert float(row["train_loss"]) == pytest.approx(total, rel=1e-4)
        # ce_gap is CE on SR minus CE on originals, logged beside it
        assert math.isfinite(float(row["val_ce_gap"]))
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["monitor"] == "ce_gap"
    assert summary["best_value"] == pytest.approx(min(float(r["val_ce_gap"]) for r in rows), abs=1e-5)


def test_student_checkpoint_holds_the_network_in_basicsr_layout(pipeline) -> None:
    path = pipeline["base"] / "distill" / "best.safetensors"
    state = read_state_dict(path)
    assert "conv_first.weight" in state and not any(k.startswith(("net.", "model.")) for k in state)
    assert state["conv_first.weight"].shape == (8, 1, 3, 3)
    meta = read_metadata(path)
    assert meta["role"] == "student" and meta["recipe"] == "distill" and meta["monitor"] == "ce_gap"
    assert meta["config"] == {
        "type": "rrdb",
        "num_feat": 8,
        "num_block": 1,
        "num_grow_ch": 4,
        "scale": 4,
        "weights": str(pipeline["base"] / "pixel" / "best.safetensors"),
        "resize": "bicubic",
        "residual": False,
    }


def test_distillation_trains_the_student_only(pipeline) -> None:
    parts = pipeline["distill_parts"]
    assert parts is not None
    base = pipeline["base"]
    start = read_state_dict(base / "pixel" / "best.safetensors")
    trained = {k: v.cpu() for k, v in parts.student.net.state_dict().items()}
    assert trained.keys() == start.keys()
    assert any(not torch.equal(trained[k], start[k]) for k in start), "the student did not change"
    last = read_state_dict(base / "distill" / "last.safetensors")
    assert all(torch.equal(trained[k], last[k]) for k in last)

    teacher_file = read_state_dict(base / "teacher" / "best.safetensors")
    teacher_now = {k: v.cpu() for k, v in parts.teacher.model.state_dict().items()}
    assert teacher_now.keys() == teacher_file.keys()
    for k, v in teacher_file.items():  # weights and BatchNorm statistics alike
        assert torch.equal(teacher_now[k], v), f"teacher changed: {k}"
    assert not parts.teacher.training
    assert all(not p.requires_grad for p in parts.teacher.parameters())


# -- compare -----------------------------------------------------------------------------------------


def test_compare_json(pipeline) -> None:
    data = json.loads(pipeline["json"].read_text())
    rows = data["rows"]
    assert [r["method"] for r in rows] == ["original", "bilinear", "bicubic", "pixel", "distill"]
    for row in rows:
        assert set(row) == {"method", *METRIC_KEYS, "images_per_s", "seconds"}
        assert 0.0 <= row["top1"] <= row["top5"] <= 1.0
        assert row["seconds"] > 0 and row["images_per_s"] > 0
    original = rows[0]
    assert original["agreement"] == 1.0 and original["logit_mse"] == 0.0
    assert original["psnr"] is None  # infinite, written as null
    assert original["ssim"] == pytest.approx(1.0)
    for row in rows[1:]:
        assert row["psnr"] is not None and 5 < row["psnr"] < 60
        assert row["logit_mse"] >= 0.0
    assert set(data["recovered_top1"]) == {"pixel", "distill"}


def test_compare_prints_the_table(pipeline) -> None:
    result = pipeline["compare_result"]
    assert "distill: test split" in result.stdout
    for method in ("original", "bilinear", "bicubic", "pixel", "distill"):
        assert method in result.stdout
    assert f"wrote {pipeline['json']}" in result.stdout
    assert "compare on 60 test images" in result.stderr


# -- re-running a run folder ----------------------------------------------------------------------------


@pytest.fixture
def finished_teacher(cli, make_recipe, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    recipe = make_recipe(
        tmp_path,
        name="t",
        run={"dir": str(tmp_path / "run")},
        student=None,
        losses=None,
        train={**TEACHER_TRAIN, "epochs": 1, "max_steps_per_epoch": 1},
    )
    path = write(tmp_path / "t.yaml", recipe)
    assert_clean_exit(cli("train", path), 0)
    return path, recipe


def test_rerunning_a_finished_recipe_does_nothing(cli, finished_teacher) -> None:
    path, _ = finished_teacher
    folder = path.parent / "run"
    before = snapshot(folder)
    result = cli("train", path)
    assert_clean_exit(result, 0)
    assert "already holds this finished run" in result.stderr
    assert snapshot(folder) == before


def test_a_different_recipe_does_not_touch_the_run(cli, finished_teacher, flatten) -> None:
    path, _ = finished_teacher
    folder = path.parent / "run"
    before = snapshot(folder)
    result = cli("train", path, "--set", "train.optimizer.lr=0.01")
    assert_clean_exit(result, 1)
    text = flatten(result.stderr)
    assert f"Run folder {folder} holds a run of a different recipe; it was left untouched." in text
    assert "train.optimizer.lr: 0.002 → 0.01" in text
    assert "--overwrite" in text
    assert snapshot(folder) == before


def test_overwrite_replaces_the_run(cli, finished_teacher) -> None:
    path, _ = finished_teacher
    folder = path.parent / "run"
    before = snapshot(folder)
    (folder / "stale.txt").write_text("from an earlier run")
    result = cli("train", path, "--set", "train.epochs=2", "--overwrite")
    assert_clean_exit(result, 0)
    assert not (folder / "stale.txt").exists()
    assert len(read_csv(folder / "metrics.csv")) == 2
    assert "epochs: 2" in (folder / "recipe.yaml").read_text()
    assert snapshot(folder)["best.safetensors"] != before["best.safetensors"]


def test_an_unfinished_run_without_a_snapshot_starts_again(cli, finished_teacher) -> None:
    """A run killed before its first snapshot has nothing to resume from: rerunning starts it again,
    and what it left (metrics rows, weights, TensorBoard events) is replaced, not appended to."""
    path, _ = finished_teacher
    folder = path.parent / "run"
    (folder / "summary.json").unlink()
    result = cli("train", path)
    assert_clean_exit(result, 0)
    assert [r["epoch"] for r in read_csv(folder / "metrics.csv")] == ["1"]
    assert len(list((folder / "tensorboard").glob("events.out.tfevents.*"))) == 1


# -- other training set-ups ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("optimizer", "scheduler"),
    [
        ("sgd", {"name": "step", "decay_epochs": 1, "decay_rate": 0.5}),
        ("adam", {"name": "multistep", "decay_milestones": [1]}),
        ("lamb", {"name": "poly"}),
        ("adamw", {"name": "tanh", "warmup_epochs": 0.5}),
        ("adamw", {"name": "none"}),
        ("adamw", {"name": "cosine"}),
    ],
)
def test_optimizers_and_schedules(cli, make_recipe, tmp_path: Path, optimizer: str, scheduler: dict) -> None:
    train = {
        **TEACHER_TRAIN,
        "epochs": 2,
        "max_steps_per_epoch": 1,
        "optimizer": {"name": optimizer, "lr": 0.01},
        "scheduler": scheduler,
        "grad_clip": 1.0,
        "hflip": True,
        "label_smoothing": 0.1,
    }
    recipe = make_recipe(tmp_path, student=None, losses=None, train=train)
    assert_clean_exit(cli("train", write(tmp_path / "r.yaml", recipe)), 0)
    rows = read_csv(tmp_path / "runs" / "tiny" / "metrics.csv")
    assert len(rows) == 2
    if scheduler["name"] == "none":
        assert [float(r["lr"]) for r in rows] == [0.01, 0.01]
    if scheduler["name"] == "cosine":
        assert [float(r["lr"]) for r in rows] == pytest.approx([0.005, 0.0])  # half-way, then min_lr
    if scheduler["name"] == "multistep":
        assert [float(r["lr"]) for r in rows] == pytest.approx([0.001, 0.001])  # decayed at epoch 1 only
    if scheduler["name"] == "step":
        assert float(rows[0]["lr"]) == pytest.approx(0.005)  # decayed once after one epoch


def test_full_epochs_without_a_step_limit(cli, make_recipe, tmp_path: Path) -> None:
    data = {
        "type": "fashion_mnist",
        "root": make_recipe(tmp_path)["data"]["root"],
        "val_size": 40,
        "train_size": 40,
    }
    recipe = make_recipe(
        tmp_path,
        data=data,
        losses=[{"type": "pixel_l1"}],
        train={"epochs": 1, "batch_size": 16, "monitor": "ssim"},
    )
    assert_clean_exit(cli("train", write(tmp_path / "r.yaml", recipe)), 0)
    (row,) = read_csv(tmp_path / "runs" / "tiny" / "metrics.csv")
    assert row["step"] == "2"  # 40 images in batches of 16, the partial batch dropped


def test_a_failed_build_does_not_block_the_next_try(cli, make_recipe, tmp_path: Path, flatten) -> None:
    """A run that stops before training (here: teacher weights of the wrong shape) has done no work,
    so once the cause is fixed the same command must run, without --overwrite."""
    import timm

    weights = tmp_path / "teacher.pth"
    torch.save(timm.create_model("test_resnet", num_classes=3, in_chans=1).state_dict(), weights)
    recipe = make_recipe(tmp_path)
    recipe["teacher"]["weights"] = str(weights)
    path = write(tmp_path / "r.yaml", recipe)
    result = cli("train", path)
    assert_clean_exit(result, 1)
    assert "does not fit the ResNet" in flatten(result.stderr)

    torch.save(timm.create_model("test_resnet", num_classes=10, in_chans=1).state_dict(), weights)
    result = cli("train", path)
    assert_clean_exit(result, 0)
    assert (tmp_path / "runs" / "tiny" / "summary.json").is_file()


def test_interpolation_students_cannot_be_trained(cli, write_recipe, flatten) -> None:
    result = cli("train", write_recipe(student={"type": "bicubic"}))
    assert_clean_exit(result, 1)
    assert "Student 'bicubic' has no weights to train" in flatten(result.stderr)


@pytest.mark.parametrize("monitor", catalog().metrics.names())
def test_every_registered_metric_can_be_the_monitor(
    cli, make_recipe, image_tree: Path, lpips_backbone: Path, tmp_path: Path, monitor: str
) -> None:
    """The monitor comes from the metric registry, so a newly registered metric can pick the best epoch.
    (32×32 colour images: every built-in metric, LPIPS included, can measure them.)"""
    recipe = make_recipe(
        tmp_path,
        data={"type": "image_folder", "root": str(image_tree), "hr_size": 32},
        teacher={"type": "timm", "model": "test_resnet", "input_size": 32, "crop_pct": 1.0},
        train={"epochs": 1, "batch_size": 8, "max_steps_per_epoch": 1, "monitor": monitor},
    )
    result = cli("train", write(tmp_path / "r.yaml", recipe))
    assert_clean_exit(result, 0)
    summary = json.loads((tmp_path / "runs" / "tiny" / "summary.json").read_text())
    assert summary["monitor"] == monitor
    (row,) = read_csv(tmp_path / "runs" / "tiny" / "metrics.csv")
    assert summary["best_value"] == pytest.approx(float(row[f"val_{monitor}"]), rel=1e-4)


def test_diverging_training_fails_cleanly(cli, make_recipe, tmp_path: Path, flatten) -> None:
    """Every epoch's validation value is NaN: no best epoch. That must be reported, not crash."""
    train = {
        **TEACHER_TRAIN,
        "epochs": 1,
        "max_steps_per_epoch": 2,
        "monitor": "ce",
        "optimizer": {"name": "sgd", "lr": 1e30},
    }
    recipe = make_recipe(tmp_path, student=None, losses=None, train=train)
    result = cli("train", write(tmp_path / "r.yaml", recipe))
    assert_clean_exit(result, 1)
    assert "No epoch gave a finite validation ce: training diverged" in flatten(result.stderr)
    folder = tmp_path / "runs" / "tiny"
    assert (folder / "last.safetensors").is_file() and not (folder / "summary.json").exists()


def test_cuda_device_without_cuda(cli, write_recipe, flatten) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = cli("train", write_recipe(), "--set", "device=cuda")
    assert_clean_exit(result, 1)
    assert "CUDA is not available" in flatten(result.stderr)


def test_training_is_reproducible(cli, make_recipe, tmp_path: Path) -> None:
    """The same recipe and seed give the same weights and the same log."""
    train = {"epochs": 2, "batch_size": 16, "max_steps_per_epoch": 2}
    for run in ("a", "b"):
        recipe = make_recipe(tmp_path, run={"dir": str(tmp_path / run)}, losses=[{"type": "logit_mse"}], train=train)
        assert_clean_exit(cli("train", write(tmp_path / f"{run}.yaml", recipe)), 0)
    a, b = (
        read_state_dict(tmp_path / "a" / "last.safetensors"),
        read_state_dict(tmp_path / "b" / "last.safetensors"),
    )
    assert all(torch.equal(a[k], b[k]) for k in a)
    drop_time = [
        {k: v for k, v in r.items() if k not in ("seconds", "train_images_per_s")}
        for r in read_csv(tmp_path / "a" / "metrics.csv")
    ]
    assert drop_time == [
        {k: v for k, v in r.items() if k not in ("seconds", "train_images_per_s")}
        for r in read_csv(tmp_path / "b" / "metrics.csv")
    ]
    recipe = make_recipe(
        tmp_path, run={"dir": str(tmp_path / "c")}, seed=1, losses=[{"type": "logit_mse"}], train=train
    )
    assert_clean_exit(cli("train", write(tmp_path / "c.yaml", recipe)), 0)
    c = read_state_dict(tmp_path / "c" / "last.safetensors")
    assert any(not torch.equal(a[k], c[k]) for k in a)


# -- the quickstart, with the shipped recipes ----------------------------------------------------------


@pytest.mark.slow
def test_quickstart_with_the_shipped_recipes(
    cli, fmnist_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README's steps 1-5: each recipe reads the run folders those before it wrote (runs/...)."""
    recipes = Path(__file__).resolve().parents[2] / "recipes"
    monkeypatch.chdir(tmp_path)
    data = ["--set", f"data.root={fmnist_root}", "--set", "data.val_size=40"]
    longer = ["--set", "train.batch_size=32", "--set", "train.epochs=8"]  # 200 images: 6 steps an epoch
    for stem in ("fmnist_teacher", "fmnist_pixel", "fmnist_darionet", "fmnist_darionet_pixel"):
        result = cli("train", recipes / f"{stem}.yaml", *data, *(longer if stem == "fmnist_teacher" else []))
        assert_clean_exit(result, 0)
        assert (tmp_path / "runs" / stem / "best.safetensors").is_file()
        assert (tmp_path / "runs" / stem / "summary.json").is_file()
    result = cli("compare", recipes / "fmnist_darionet.yaml", *data, "--json", "table.json")
    assert_clean_exit(result, 0)
    table = json.loads((tmp_path / "table.json").read_text())
    assert [r["method"] for r in table["rows"]] == [
        "original",
        "bilinear",
        "bicubic",
        "rrdb_pixel",
        "darionet",
        "darionet_pixel",
    ]
    summary = json.loads((tmp_path / "runs" / "fmnist_teacher" / "summary.json").read_text())
    assert summary["best_value"] >= 0.5  # the synthetic classes are easy: far above chance (0.1)
    original = table["rows"][0]
    assert original["top1"] >= 0.5  # on the test split too
