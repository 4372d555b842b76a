"""Teacher ensembles: the student trained against several teachers, each with a weight."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import timm
import torch
import torch.nn.functional as F
import yaml

from srdistill.checkpoints import save_weights
from srdistill.data.base import collate
from srdistill.engine.build import build
from srdistill.engine.evaluate import evaluate
from srdistill.engine.plan import describe
from srdistill.engine.tasks import StudentTask, TrainBatch
from srdistill.imaging import to_unit
from srdistill.recipe.loading import RecipeError, validate_recipe

PREPROCESSING = {"input_size": 32, "crop_pct": 1.0, "mean": [0.5], "std": [0.5], "interpolation": "bilinear"}


def classifier(path: Path, model: str, seed: int) -> Path:
    torch.manual_seed(seed)
    save_weights(timm.create_model(model, num_classes=10, in_chans=1), path, {"role": "teacher"})
    return path


def ensemble_recipe(make_recipe, tmp_path: Path, teacher_weight: float = 2.0, weight: float = 0.5) -> dict[str, Any]:
    raw = make_recipe(tmp_path)
    raw["teacher"]["weights"] = str(classifier(tmp_path / "a.safetensors", "test_resnet", 1))
    conv = classifier(tmp_path / "b.safetensors", "test_convnext", 2)
    raw["teacher_weight"] = teacher_weight
    raw["teachers"] = [
        {"name": "conv", "weight": weight, "teacher": {"type": "timm", "model": "test_convnext", "weights": str(conv),
                                                       **PREPROCESSING}},
    ]  # fmt: skip
    raw["losses"] = [{"type": "logit_mse", "weight": 1.5}, {"type": "pixel_l1", "weight": 0.3}]
    return raw


def batch(recipe, n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    parts = build(recipe, "train")
    images, labels, _ = collate([parts.data.train[i] for i in range(n)])
    return to_unit(images), labels


@pytest.mark.parametrize("ensemble", [True, False])
def test_loss_is_the_hand_computed_weighted_sum(make_recipe, tmp_path: Path, ensemble: bool) -> None:
    raw = ensemble_recipe(make_recipe, tmp_path)
    if not ensemble:  # the single-teacher sum is the plain weighted sum, as before ensembles
        raw.pop("teachers"), raw.pop("teacher_weight")
    recipe = validate_recipe(raw)
    parts = build(recipe, "train")
    task = StudentTask(recipe, parts)
    hr, labels = batch(recipe)
    out = task.forward(TrainBatch(hr, labels, torch.arange(len(hr))), "student")

    with torch.no_grad():
        sr = parts.student(parts.degradation(hr), (28, 28))
        teachers = [(2.0 if ensemble else 1.0, parts.teacher)]
        teachers += [(0.5, parts.members["conv"])] if ensemble else []
        mse = sum(w * F.mse_loss(t(sr), t(hr)) for w, t in teachers)
        l1 = (sr - hr).abs().mean()
    assert set(parts.members) == ({"conv"} if ensemble else set())
    assert out["logit_mse"].item() == pytest.approx(mse.item(), rel=1e-5)
    assert out["pixel_l1"].item() == pytest.approx(l1.item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx(1.5 * mse.item() + 0.3 * l1.item(), rel=1e-5)
    out["loss"].backward()  # gradients reach the student through every teacher
    assert all(p.grad is not None for p in parts.student.parameters() if p.requires_grad)
    assert all(p.grad is None for t in parts.members.values() for p in t.parameters())


def test_monitor_is_the_weighted_mean_of_each_teachers_ce_gap(make_recipe, tmp_path: Path) -> None:
    recipe = validate_recipe(ensemble_recipe(make_recipe, tmp_path))
    parts = build(recipe, "train")
    task = StudentTask(recipe, parts)
    assert task.monitor == "ce_gap"
    loader = torch.utils.data.DataLoader(parts.data.val, batch_size=16, collate_fn=collate)
    values = task.validate(loader, None)
    gaps = {
        name: evaluate(loader, t, parts.degradation, {"student": parts.student}, ["ce_gap"], parts.device)
        .rows["student"]
        .metrics["ce_gap"]
        for name, t in [("teacher", parts.teacher), ("conv", parts.members["conv"])]
    }
    assert gaps["teacher"] != pytest.approx(gaps["conv"])  # two different teachers
    assert values["ce_gap"] == pytest.approx((2.0 * gaps["teacher"] + 0.5 * gaps["conv"]) / 2.5, rel=1e-5)


def test_plan_shows_each_teachers_cost(make_recipe, tmp_path: Path) -> None:
    from rich.console import Console

    recipe = validate_recipe(ensemble_recipe(make_recipe, tmp_path))
    console = Console(width=250, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(describe(recipe, build(recipe, "train")))
    text = console.export_text()
    assert "teachers.conv test_convnext" in text and "teacher test_resnet" in text
    assert "weights MiB" in text and "2 teacher(s)" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"teacher_weight": 0.0, "weight": 0.0}, "add up to 0"),
        ({"name": "teacher"}, "names must differ"),
        ({"fit": "teacher"}, "train.fit: teacher uses none"),
    ],
)
def test_bad_ensembles_fail_before_anything_is_written(
    cli, flatten, make_recipe, tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    raw = ensemble_recipe(make_recipe, tmp_path, change.get("teacher_weight", 2.0), change.get("weight", 0.5))
    if "name" in change:
        raw["teachers"][0]["name"] = change["name"]
    if "fit" in change:
        raw["train"]["fit"] = "teacher"
    with pytest.raises(RecipeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_recipe(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = cli("train", path)
    assert result.exit_code == 1 and message in flatten(result.output)
    assert not (tmp_path / "runs").exists()


def test_teacher_weight_without_an_ensemble_is_an_error(make_recipe, tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="teachers is empty"):
        validate_recipe({**make_recipe(tmp_path), "teacher_weight": 2.0})
