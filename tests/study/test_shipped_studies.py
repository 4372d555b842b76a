"""The studies in recipes/studies/: each loads, and each plans (dry run) every run on stand-in data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from srdistill.study.schema import load_study
from tests.test_recipes_shipped import rrdb_state

STUDIES_DIR = Path(__file__).resolve().parents[2] / "recipes" / "studies"
STUDIES = sorted(STUDIES_DIR.glob("*.yaml"))


def test_the_expected_studies_are_shipped() -> None:
    assert {p.stem for p in STUDIES} == {"fmnist", "fmnist_equal", "fmnist_transfer", "own", "imagenet"}


@pytest.mark.parametrize("path", STUDIES, ids=[p.stem for p in STUDIES])
def test_study_loads_and_names_itself_as_its_file(path: Path) -> None:
    study = load_study(path)
    assert study.name == path.stem and len(study.seeds) == 3


def charged(out: str, route: str) -> float:
    """The TFLOP a route is charged in the dry run's table (seed 0's row)."""
    row = next(line for line in out.splitlines() if re.match(rf"│ +0 │ {route} +│", line))
    return float(row.split("│")[7])


@pytest.mark.parametrize("stem", ["fmnist", "fmnist_equal"])
def test_fmnist_studies_plan_every_run(cli, fmnist_root: Path, tmp_path, monkeypatch, stem: str) -> None:
    monkeypatch.chdir(tmp_path)
    sets = [f"base.data.root={fmnist_root}", "base.data.val_size=40", "classifier.train.batch_size=64"]
    result = cli("study", STUDIES_DIR / f"{stem}.yaml", "--dry-run", *(a for s in sets for a in ("--set", s)))
    assert result.exit_code == 0, result.output
    assert "Nothing was written" in result.stdout and not (tmp_path / "studies").exists()
    darionet, finetune = charged(result.stdout, "darionet"), charged(result.stdout, "lr_finetune")
    if stem == "fmnist":
        assert "27 runs and 3 compares" in result.stdout and finetune < darionet / 5
    else:  # the fine-tunes given DarioNet's FLOPs, and a start run for the routes that begin from pixel
        assert "30 runs and 3 compares" in result.stdout and "pixel.start" in result.stdout
        assert darionet * 0.9 < finetune <= darionet * 1.001


def test_the_transfer_study_fits_its_judges_and_an_ensemble_route_trains_against_one(
    cli, fmnist_root, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sets = [f"base.data.root={fmnist_root}", "base.data.val_size=40", "set=[train.val_batch_size=64]"]
    result = cli("study", STUDIES_DIR / "fmnist_transfer.yaml", "--dry-run", *(a for s in sets for a in ("--set", s)))
    assert result.exit_code == 0, result.output
    assert "24 runs and 3 compares" in result.stdout  # 5 routes, the ResNet and two judges, 3 seeds
    assert re.search(r"│ +0 │ distil_ensemble +│.*classifier, pixel, judge\.convnext", result.stdout)
    assert "judge.vit" in result.stdout


def test_own_photos_study_plans_every_run(cli, image_tree: Path, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("study", STUDIES_DIR / "own.yaml", "--dry-run", "--set", f"base.data.root={image_tree}")
    assert result.exit_code == 0, result.output
    assert "24 runs and 3 compares" in result.stdout  # 7 routes and the classifier, 3 seeds


def test_own_photos_study_without_its_folder_says_how_to_point_at_it(cli, tmp_path, monkeypatch, flatten) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("study", STUDIES_DIR / "own.yaml", "--dry-run")
    assert result.exit_code == 1
    assert "data.root: data/own" in flatten(result.output) and "--set base.data.root=/path" in flatten(result.output)


def test_imagenet_study_plans_every_route_with_its_flops(cli, image_tree: Path, tmp_path, monkeypatch) -> None:
    """The paper's setup (a small RRDB on stand-in files): every route plans, each charged DarioNet's FLOPs."""
    import timm

    monkeypatch.chdir(tmp_path)
    teacher, student = tmp_path / "resnet50.pth", tmp_path / "rrdb.pth"
    torch.save(timm.create_model("resnet50", num_classes=1000).state_dict(), teacher)
    torch.save(rrdb_state(3, 8, 1, 4), student)
    sets = [
        f"base.data.root={image_tree}",
        f"base.teacher.weights={teacher}",
        f"base.student.weights={student}",
        "base.student.num_feat=8",
        "base.student.num_block=1",
        "base.student.num_grow_ch=4",
        "set=[train.batch_size=2]",
    ]
    result = cli("study", STUDIES_DIR / "imagenet.yaml", "--dry-run", *(a for s in sets for a in ("--set", s)))
    assert result.exit_code == 0, result.output
    assert "15 runs and 3 compares" in result.stdout
    darionet = charged(result.stdout, "darionet")
    for route in ("lr_finetune", "lr_mixed", "darionet_pixel", "joint"):
        assert charged(result.stdout, route) <= darionet * 1.001, route
    for route in ("lr_finetune", "lr_mixed", "darionet_pixel"):  # the joint step is a large share of the stand-in's
        assert darionet * 0.9 < charged(result.stdout, route), route
