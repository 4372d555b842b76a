"""compare: original, bilinear, bicubic and every checkpoint through the teacher, on the test split."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from rich.console import Console

from srdistill.catalog import catalog
from srdistill.checkpoints import component_metadata, save_weights
from srdistill.checkpoints.student import load_student_checkpoint as load_checkpoint
from srdistill.compat.basicsr import rrdbnet_class
from srdistill.data.base import DataInfo
from srdistill.engine.compare import compare, recovered_by_row, trained_rows
from srdistill.engine.evaluate import Row
from srdistill.errors import UserError
from srdistill.imaging import to_unit
from srdistill.recipe.loading import validate_recipe
from srdistill.students.rrdb import RRDBConfig

GREY = DataInfo(channels=1, num_classes=10, hr_size=(28, 28), class_names=tuple("abcdefghij"))


def load_student_checkpoint(path: Path, info: DataInfo, fallback: RRDBConfig | None):
    return load_checkpoint(path, info, fallback, catalog().students)


def quiet() -> Console:
    return Console(file=open("/dev/null", "w"), width=200)


def rrdb_net(num_feat: int = 8, seed: int = 0):
    torch.manual_seed(seed)
    return rrdbnet_class()(1, 1, scale=4, num_feat=num_feat, num_block=1, num_grow_ch=4)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A teacher checkpoint, srdistill student checkpoints, and a basicsr .pth."""
    torch.manual_seed(0)
    teacher = tmp_path / "teacher.safetensors"
    teacher_cfg = {"type": "timm", "model": "test_resnet"}
    save_weights(
        timm.create_model("test_resnet", num_classes=10, in_chans=1),
        teacher,
        {"role": "teacher", "config": teacher_cfg},
    )
    student = tmp_path / "student.safetensors"
    save_weights(
        rrdb_net(),
        student,
        component_metadata("student", RRDBConfig(type="rrdb", num_feat=8, num_block=1, num_grow_ch=4)),
    )
    wide = tmp_path / "wide.safetensors"  # an architecture other than the recipe's student section
    save_weights(
        rrdb_net(num_feat=12),
        wide,
        component_metadata("student", RRDBConfig(type="rrdb", num_feat=12, num_block=1, num_grow_ch=4)),
    )
    basicsr = tmp_path / "esrgan.pth"
    torch.save({"params_ema": rrdb_net(seed=1).state_dict()}, basicsr)
    return {"teacher": teacher, "student": student, "wide": wide, "basicsr": basicsr}


def recipe_with(make_recipe, tmp_path: Path, files: dict[str, Path], checkpoints: list[dict[str, Any]], **extra: Any):
    raw = make_recipe(tmp_path)
    raw["teacher"]["weights"] = str(files["teacher"])
    raw["compare"] = {"batch_size": 25, "checkpoints": checkpoints, **extra}
    return validate_recipe(raw)


def test_rows_in_order_with_every_metric(make_recipe, tmp_path: Path, files) -> None:
    checkpoints = [
        {"name": "mine", "path": str(files["student"])},
        {"name": "wide", "path": str(files["wide"])},
        {"name": "esrgan", "path": str(files["basicsr"])},
    ]
    rows = compare(recipe_with(make_recipe, tmp_path, files, checkpoints), quiet()).rows
    assert [r.method for r in rows] == ["original", "bilinear", "bicubic", "mine", "wide", "esrgan"]
    for row in rows:
        assert list(row.metrics) == ["top1", "top5", "ce", "logit_mse", "agreement", "psnr", "ssim", "psnr_y"]
        assert row.images == 60  # the whole test split, over 3 batches of up to 25
        assert row.seconds > 0
    original = rows[0].metrics
    assert original["agreement"] == 1.0 and original["logit_mse"] == 0.0
    assert original["psnr"] == math.inf and original["ssim"] == pytest.approx(1.0)
    # different students give different images
    assert len({r.metrics["psnr"] for r in rows[1:]}) == 5


def test_values_match_a_hand_computation(make_recipe, tmp_path: Path, files) -> None:
    from srdistill.catalog import catalog

    recipe = recipe_with(make_recipe, tmp_path, files, [], metrics=["top1", "logit_mse", "agreement", "psnr"])
    rows = {r.method: r.metrics for r in compare(recipe, quiet()).rows}
    assert set(rows) == {"original", "bilinear", "bicubic"}

    cat = catalog()
    data = cat.datasets.build(recipe.data)
    teacher = cat.teachers.build(recipe.teacher, data.info).eval()
    images = torch.stack([data.test[i][0] for i in range(len(data.test))])
    labels = torch.tensor([data.test[i][1] for i in range(len(data.test))])
    with torch.no_grad():
        hr = to_unit(images)
        ref = teacher(hr)
        lr = cat.degradations.build(recipe.degradation)(hr)
        from kornia.geometry.transform import resize

        sr = resize(lr, (28, 28), interpolation="bicubic", align_corners=False).clamp(0, 1)
        logits = teacher(sr)
    assert rows["original"]["top1"] == pytest.approx((ref.argmax(1) == labels).float().mean().item())
    assert rows["bicubic"]["top1"] == pytest.approx((logits.argmax(1) == labels).float().mean().item())
    assert rows["bicubic"]["agreement"] == pytest.approx((logits.argmax(1) == ref.argmax(1)).float().mean().item())
    assert rows["bicubic"]["logit_mse"] == pytest.approx((logits - ref).pow(2).mean().item(), rel=1e-4)
    mse = (sr - hr).pow(2).flatten(1).mean(1)
    assert rows["bicubic"]["psnr"] == pytest.approx((10 * torch.log10(1 / mse)).mean().item(), rel=1e-4)


def test_the_sr_literatures_psnr_crops_the_border_of_the_sr_factor(make_recipe, tmp_path: Path, files) -> None:
    """psnr_y through compare: the degradation's factor (28 → 9: ×3) sets the border, as in BasicSR's tables."""
    from srdistill.compat.basicsr import psnr_ssim

    recipe = recipe_with(make_recipe, tmp_path, files, [], metrics=["psnr", "psnr_y", "ssim_y"])
    rows = {r.method: r.metrics for r in compare(recipe, quiet()).rows}
    cat = catalog()
    data = cat.datasets.build(recipe.data)
    hr = to_unit(torch.stack([data.test[i][0] for i in range(len(data.test))]))
    from kornia.geometry.transform import resize

    sr = resize(cat.degradations.build(recipe.degradation)(hr), (28, 28), interpolation="bicubic").clamp(0, 1)
    expected = psnr_ssim().calculate_psnr_pt(sr, hr, crop_border=3).mean().item()
    assert rows["bicubic"]["psnr_y"] == pytest.approx(expected, rel=1e-5)
    assert rows["bicubic"]["psnr_y"] != pytest.approx(rows["bicubic"]["psnr"], rel=1e-3)
    assert 0 < rows["bicubic"]["ssim_y"] < rows["original"]["ssim_y"] == pytest.approx(1.0)


def test_teacher_checkpoint_is_not_a_student(make_recipe, tmp_path: Path, files) -> None:
    recipe = recipe_with(make_recipe, tmp_path, files, [{"name": "oops", "path": str(files["teacher"])}])
    with pytest.raises(UserError, match="is a teacher checkpoint, not a student"):
        compare(recipe, quiet())


def test_missing_checkpoints_are_listed_together(make_recipe, tmp_path: Path, files) -> None:
    checkpoints = [
        {"name": "a", "path": str(tmp_path / "a.safetensors")},
        {"name": "b", "path": str(tmp_path / "b.pth")},
    ]
    with pytest.raises(UserError) as info:
        compare(recipe_with(make_recipe, tmp_path, files, checkpoints), quiet())
    message = str(info.value)
    assert f"compare.checkpoints (a): {tmp_path / 'a.safetensors'}" in message
    assert f"compare.checkpoints (b): {tmp_path / 'b.pth'}" in message


@pytest.mark.parametrize(
    "names",
    [["mine", "mine"], ["bicubic"], ["original"], ["bilinear", "mine"]],
    ids=["duplicate", "bicubic", "original", "bilinear"],
)
def test_checkpoint_names_must_not_clash(make_recipe, tmp_path: Path, files, names: list[str]) -> None:
    """A row name used twice would silently drop a row (or, for "original", mix a student's images
    into the reference row): such a table must be refused, not printed."""
    paths = [files["student"], files["basicsr"]]
    checkpoints = [{"name": n, "path": str(paths[i % 2])} for i, n in enumerate(names)]
    with pytest.raises(UserError) as info:
        compare(recipe_with(make_recipe, tmp_path, files, checkpoints), quiet())
    assert names[0] in str(info.value)


def test_warns_about_a_teacher_without_weights(make_recipe, tmp_path: Path) -> None:
    recipe = validate_recipe(make_recipe(tmp_path, compare={"batch_size": 64, "metrics": ["top1"]}))
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    rows = compare(recipe, console).rows
    assert "the teacher has no weights file" in console.export_text()
    assert [r.method for r in rows] == ["original", "bilinear", "bicubic"]
    assert all(list(r.metrics) == ["top1"] for r in rows)


def test_recovered_by_row_uses_the_one_formula() -> None:
    rows = {r.method: r for r in [
        Row("original", {"top1": 0.8}), Row("bilinear", {"top1": 0.3}), Row("bicubic", {"top1": 0.4}),
        Row("esrgan", {"top1": 0.5}), Row("darionet", {"top1": 0.7}),
    ]}  # fmt: skip
    fractions = recovered_by_row(rows)
    assert (
        fractions["original"] == 1.0 and fractions["bicubic"] == 0.0 and fractions["bilinear"] == pytest.approx(-0.25)
    )
    assert trained_rows(fractions) == pytest.approx({"esrgan": 0.25, "darionet": 0.75})
    assert recovered_by_row({"original": Row("original", {"psnr": 1.0})}) == {}  # no labels, no fractions


def test_a_folder_of_unlabelled_photos_gets_the_label_free_rows(cli, make_recipe, tmp_path: Path, flatten) -> None:
    """Photos without labels: compare leaves top1/top5/ce/ce_gap out with a note, keeps PSNR, SSIM and
    the teacher's agreement and logit MSE, and a student trains on them with a label-free monitor."""
    import json

    import numpy as np
    import yaml
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate([(80, 60), (100, 75), (60, 90), (75, 75), (90, 50)]):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    recipe = make_recipe(
        tmp_path,
        data={"type": "photo_folder", "root": str(photos), "train_crop": 50, "crops_per_image": 4},
        teacher={"type": "timm", "model": "test_resnet", "num_classes": 10, "input_size": 32, "crop_pct": 1.0},
        train={"epochs": 1, "batch_size": 4, "max_steps_per_epoch": 2, "val_batch_size": 1},
        compare={"batch_size": 1},
    )
    path = tmp_path / "photos.yaml"
    path.write_text(yaml.safe_dump(recipe))
    result = cli("train", path)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "runs" / "tiny" / "summary.json").read_text())
    assert summary["monitor"] == "logit_mse"  # ce_gap needs labels
    best = tmp_path / "runs" / "tiny" / "best.safetensors"
    result = cli("compare", path, "--set", f"compare.checkpoints=[{{name: s, path: {best}}}]", "--json",
                 tmp_path / "t.json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "the data set has no labels: top1, top5, ce left out" in flatten(result.output)
    assert "recovers" not in result.output
    rows = json.loads((tmp_path / "t.json").read_text())["rows"]
    assert [r["method"] for r in rows] == ["original", "bilinear", "bicubic", "s"]
    for row in rows:
        assert set(row) == {"method", "logit_mse", "agreement", "psnr", "ssim", "psnr_y", "images_per_s", "seconds"}
    assert rows[0]["agreement"] == 1.0 and rows[0]["psnr"] is None  # ∞ on the originals
    result = cli("compare", path, "--json", tmp_path / "own.json")  # no checkpoints: the run's own student
    assert result.exit_code == 0, result.output
    assert [r["method"] for r in json.loads((tmp_path / "own.json").read_text())["rows"]][-1] == "tiny"
