"""compare's routes: an SR row read by a classifier of its own, scored as a route to recognition."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import timm
import torch
from rich.console import Console

from srdistill.checkpoints import component_metadata, save_weights
from srdistill.engine.build import build
from srdistill.engine.compare import compare, train_seconds
from srdistill.engine.evaluate import evaluate
from srdistill.engine.loaders import make_loader
from srdistill.errors import UserError
from srdistill.recipe.loading import RecipeError, validate_recipe
from srdistill.teachers.timm_teacher import TimmTeacherConfig

QUIET = Console(file=open("/dev/null", "w"), width=200)  # noqa: SIM115


@pytest.fixture
def classifiers(tmp_path: Path, make_recipe) -> dict[str, Path]:
    """The teacher, and an 'LR' classifier in a run folder of its own with a summary."""
    config = make_recipe(tmp_path)["teacher"]
    out = {}
    for name, seed in (("teacher", 0), ("lr", 1)):
        torch.manual_seed(seed)
        run = tmp_path / name
        run.mkdir()
        model = timm.create_model("test_resnet", num_classes=10, in_chans=1)
        save_weights(model, run / "best.safetensors",
                     component_metadata("teacher", TimmTeacherConfig.model_validate(config)))  # fmt: skip
        (run / "summary.json").write_text(json.dumps({"train_seconds": 12.5 + seed}))
        out[name] = run / "best.safetensors"
    return out


def routed(make_recipe, tmp_path: Path, classifiers: dict[str, Path], **route) -> dict:  # type: ignore[type-arg]
    raw = make_recipe(tmp_path)
    raw["teacher"]["weights"] = str(classifiers["teacher"])
    raw["compare"] = {"batch_size": 32, "routes": [{"name": "lr_route", "sr": "bicubic",
                                                     "classifier": str(classifiers["lr"]), **route}]}  # fmt: skip
    return raw


def test_a_route_is_its_classifier_on_its_rows_images(make_recipe, tmp_path: Path, classifiers) -> None:
    recipe = validate_recipe(routed(make_recipe, tmp_path, classifiers))
    done = compare(recipe, QUIET)
    by = {r.route: r for r in done.routes}
    assert list(by) == ["original", "bilinear", "bicubic", "lr_route"]
    assert by["bicubic"].classifier == "teacher" and by["lr_route"].sr == "bicubic"
    assert by["lr_route"].train_seconds == 13.5 and by["bicubic"].train_seconds == 0.0
    # by hand: the LR classifier through the one evaluation pass as its own teacher
    parts = build(recipe, "evaluate")
    loader = make_loader(parts.data.test, 32, device=parts.device)
    own = evaluate(loader, parts.routes["lr_route"], parts.degradation, {"bicubic": parts.methods["bicubic"]},
                   ["top1", "psnr"], parts.device).rows  # fmt: skip
    assert by["lr_route"].top1 == pytest.approx(own["bicubic"].metrics["top1"])
    assert by["lr_route"].top1_original == pytest.approx(own["original"].metrics["top1"])
    assert by["lr_route"].psnr == pytest.approx(by["bicubic"].psnr)  # the same SR images
    teacher = {r.method: r.metrics["top1"] for r in done.rows}
    gap = teacher["original"] - teacher["bicubic"]
    if abs(gap) >= 0.01:
        assert by["lr_route"].recovered == pytest.approx((by["lr_route"].top1 - teacher["bicubic"]) / gap)
    else:
        assert math.isnan(by["lr_route"].recovered)


def test_the_cli_prints_and_writes_the_routes(cli, make_recipe, tmp_path: Path, classifiers) -> None:
    import yaml

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(routed(make_recipe, tmp_path, classifiers)))
    result = cli("compare", path, "--json", tmp_path / "out" / "c.json")
    assert result.exit_code == 0, result.output
    assert "routes (an SR row" in result.output and "lr_route" in result.output
    data = json.loads((tmp_path / "out" / "c.json").read_text())
    assert [r["route"] for r in data["routes"]][-1] == "lr_route"
    assert set(data["routes"][-1]) == {"route", "sr", "classifier", "top1", "recovered", "top1_original", "psnr",
                                       "ssim", "psnr_y", "train_seconds"}  # fmt: skip


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ({"sr": "esrgan"}, "sr 'esrgan' is not a row"),
        ({"name": "bicubic"}, "the name is taken by a row or a judge"),
    ],
)
def test_bad_routes_are_named(make_recipe, tmp_path: Path, classifiers, route, expected: str) -> None:
    with pytest.raises(RecipeError, match=expected):
        validate_recipe(routed(make_recipe, tmp_path, classifiers, **route))


def test_a_route_needs_a_classifier_file_not_a_student(make_recipe, tmp_path: Path, classifiers) -> None:
    from srdistill.compat.basicsr import rrdbnet_class
    from srdistill.students.rrdb import RRDBConfig

    student = tmp_path / "student.safetensors"
    net = rrdbnet_class()(1, 1, scale=4, num_feat=8, num_block=1, num_grow_ch=4)
    save_weights(net, student, component_metadata("student", RRDBConfig(type="rrdb")))
    recipe = validate_recipe(routed(make_recipe, tmp_path, {**classifiers, "lr": student}))
    with pytest.raises(UserError, match="is a student checkpoint, not a classifier"):
        compare(recipe, QUIET)
    missing = validate_recipe(routed(make_recipe, tmp_path, {**classifiers, "lr": tmp_path / "nope.safetensors"}))
    with pytest.raises(UserError, match=r"compare.routes \(lr_route\).classifier"):
        compare(missing, QUIET)


def test_train_seconds_add_up_or_are_unknown(tmp_path: Path) -> None:
    for name, seconds in (("a", 10.0), ("b", 2.5)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps({"train_seconds": seconds}))
    assert train_seconds([tmp_path / "a", tmp_path / "b"]) == 12.5 and train_seconds([]) == 0.0
    assert train_seconds([tmp_path / "a", tmp_path / "none"]) is None
