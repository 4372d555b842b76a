"""The report's judges heatmap: recovered fraction per method and classifier, training teachers marked."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import timm
import torch
import yaml

from srdistill.checkpoints import save_weights
from srdistill.data.base import DataInfo
from srdistill.recipe.loading import validate_recipe
from srdistill.reporting.collect import Predictions
from srdistill.reporting.judges_plot import judges_heatmap, recovered_matrix, trained_against

PNG = b"\x89PNG\r\n\x1a\n"
INFO = DataInfo(channels=1, num_classes=2, hr_size=(28, 28), class_names=("a", "b"))


def predictions() -> Predictions:
    labels = torch.tensor([0, 0, 1, 1, 0, 1, 0, 1, 0, 1])

    def right(k: int) -> torch.Tensor:  # the first k images right, the rest wrong
        return torch.where(torch.arange(10) < k, labels, 1 - labels)

    teacher = {"original": right(10), "bilinear": right(6), "bicubic": right(5), "mine": right(8)}
    judge = {"original": right(9), "bilinear": right(9), "bicubic": right(9), "mine": right(7)}
    return Predictions(INFO, ["bilinear", "bicubic", "mine"], labels, teacher, judges={"r18": judge})


def test_recovered_matrix_by_hand() -> None:
    matrix = recovered_matrix(predictions())
    assert list(matrix) == ["teacher", "r18"]
    assert matrix["teacher"]["mine"] == pytest.approx((0.8 - 0.5) / (1.0 - 0.5))
    assert matrix["teacher"]["bilinear"] == pytest.approx(0.2)
    assert math.isnan(matrix["r18"]["mine"])  # original and bicubic agree: nothing to recover


def test_heatmap_marks_the_training_teachers(make_recipe, tmp_path: Path) -> None:
    raw = make_recipe(tmp_path)
    raw["compare"]["judges"] = [{"name": "r18", "teacher": raw["teacher"]}, {"name": "other", "teacher": {
        **raw["teacher"], "model": "test_convnext"}}]  # fmt: skip
    recipe = validate_recipe(raw)
    assert trained_against(recipe) == {"teacher", "r18"}
    path = judges_heatmap(recipe, predictions(), tmp_path / "judges.png")
    assert path is not None and path.read_bytes().startswith(PNG)
    plain = predictions()
    plain.judges = {}
    assert judges_heatmap(recipe, plain, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_report_page_shows_the_heatmap(cli, make_recipe, tmp_path: Path) -> None:
    raw = make_recipe(tmp_path)
    torch.manual_seed(3)
    weights = tmp_path / "conv.safetensors"
    save_weights(timm.create_model("test_convnext", num_classes=10, in_chans=1), weights, {"role": "teacher"})
    conv = {"type": "timm", "model": "test_convnext", "weights": str(weights), "input_size": 32, "mean": [0.5],
            "std": [0.5]}  # fmt: skip
    raw["compare"]["judges"] = [{"name": "conv", "teacher": conv}]
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = cli("report", path, "--out", tmp_path / "report", "--method", "bilinear")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report" / "judges.png").read_bytes().startswith(PNG)
    page = (tmp_path / "report" / "report.html").read_text()
    assert re.search(r'alt="judges.png" src="data:image/png;base64,', page) and "marks the classifiers" in page
