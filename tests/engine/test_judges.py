"""compare's judges: classifiers the student was not trained against, one matrix column each."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from rich.console import Console

from srdistill.catalog import catalog
from srdistill.checkpoints import save_weights
from srdistill.engine.compare import compare, recovered_by_row
from srdistill.engine.evaluate import Row
from srdistill.errors import UserError
from srdistill.imaging import to_unit
from srdistill.methods import MIN_GAP
from srdistill.recipe.loading import RecipeError, validate_recipe
from srdistill.reporting.tables import judges_table, rows_to_json

PREPROCESSING = {"input_size": 28, "crop_pct": 1.0, "mean": [0.5], "std": [0.5], "interpolation": "bilinear"}


def quiet() -> Console:
    return Console(file=open("/dev/null", "w"), width=200)


def classifier(path: Path, model: str, classes: int, seed: int, **args: Any) -> Path:
    torch.manual_seed(seed)
    save_weights(timm.create_model(model, num_classes=classes, in_chans=1, **args), path, {"role": "teacher"})
    return path


def judge(name: str, weights: Path, model: str = "test_resnet", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "teacher": {"type": "timm", "model": model, "weights": str(weights), **PREPROCESSING},
        **extra,
    }


@pytest.fixture
def judged(make_recipe, tmp_path: Path) -> dict[str, Any]:
    """A recipe with two 10-class judges of different families and one 12-class judge with a label map."""
    files = {
        "a": classifier(tmp_path / "a.safetensors", "test_resnet", 10, seed=1),
        "b": classifier(tmp_path / "b.safetensors", "test_convnext", 10, seed=2),
        "wide": classifier(tmp_path / "wide.safetensors", "test_resnet", 12, seed=3),
    }
    raw = make_recipe(tmp_path)
    raw["compare"] = {
        "batch_size": 25,  # 60 test images: SR and the judges run batch by batch
        "metrics": ["top1"],
        "judges": [
            judge("a", files["a"]),
            judge("b", files["b"], model="test_convnext"),  # its own preprocessing: 32 px
            judge("wide", files["wide"], label_map=[11, 10, 9, 8, 7, 6, 5, 4, 3, 2]),
        ],
    }
    raw["compare"]["judges"][1]["teacher"]["input_size"] = 32
    raw["compare"]["judges"][2]["teacher"]["num_classes"] = 12
    return {"raw": raw, "files": files}


def by_hand(recipe, judge_cfg: dict[str, Any], index: list[int] | None = None) -> dict[str, dict[str, float]]:
    """Each baseline row's top1, ce and agreement under one judge, computed on the whole test split at once."""
    cat = catalog()
    data = cat.datasets.build(recipe.data)
    model = validate_recipe({**recipe.model_dump(mode="json"), "teacher": judge_cfg["teacher"]}).teacher
    net = cat.teachers.build(model, data.info).eval()
    hr = to_unit(torch.stack([data.test[i][0] for i in range(len(data.test))]))
    labels = torch.tensor([data.test[i][1] for i in range(len(data.test))])
    with torch.no_grad():
        lr = cat.degradations.build(recipe.degradation)(hr)
        from kornia.geometry.transform import resize

        images = {
            "original": hr,
            "bilinear": resize(lr, (28, 28), interpolation="bilinear", align_corners=False).clamp(0, 1),
            "bicubic": resize(lr, (28, 28), interpolation="bicubic", align_corners=False).clamp(0, 1),
        }
        logits = {k: net(v) if index is None else net(v)[:, index] for k, v in images.items()}
    ref = logits["original"].argmax(1)
    return {
        k: {
            "top1": (v.argmax(1) == labels).float().mean().item(),
            "ce": torch.nn.functional.cross_entropy(v, labels).item(),
            "agreement": (v.argmax(1) == ref).float().mean().item(),
        }
        for k, v in logits.items()
    }


def test_matrix_matches_a_hand_computation(judged) -> None:
    recipe = validate_recipe(judged["raw"])
    done = compare(recipe, quiet())
    assert list(done.judges) == ["a", "b", "wide"]
    for cfg, index in zip(recipe.compare.judges, [None, None, list(recipe.compare.judges[2].label_map)], strict=True):
        expected = by_hand(recipe, cfg.model_dump(mode="json"), index)
        got = done.judges[cfg.name]
        assert list(got) == ["original", "bilinear", "bicubic"]
        for method, values in expected.items():
            assert list(got[method].metrics) == ["top1", "top5", "ce", "agreement"]
            assert got[method].images == 60
            for key, value in values.items():
                assert got[method].metrics[key] == pytest.approx(value, rel=1e-4, abs=1e-6), (cfg.name, method, key)
        gap = expected["original"]["top1"] - expected["bicubic"]["top1"]
        recovered = recovered_by_row(got)
        if abs(gap) >= MIN_GAP:
            want = (expected["bilinear"]["top1"] - expected["bicubic"]["top1"]) / gap
            assert recovered["bilinear"] == pytest.approx(want)
            assert recovered["original"] == pytest.approx(1.0) and recovered["bicubic"] == 0.0
        else:
            assert math.isnan(recovered["bilinear"])
    # the teacher's own table is unchanged by the judges
    plain = compare(validate_recipe({**judged["raw"], "compare": {"batch_size": 25, "metrics": ["top1"]}}), quiet())
    assert [r.metrics for r in plain.rows] == [r.metrics for r in done.rows] and plain.judges == {}


def test_recovered_fraction_and_its_dash() -> None:
    rows = {
        "original": Row("original", {"top1": 0.9}),
        "bicubic": Row("bicubic", {"top1": 0.5}),
        "mine": Row("mine", {"top1": 0.8}),
    }
    assert recovered_by_row(rows)["mine"] == pytest.approx(0.75)
    flat = {**rows, "original": Row("original", {"top1": 0.5 + MIN_GAP / 2})}
    assert math.isnan(recovered_by_row(flat)["mine"])
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(judges_table({"r18": rows, "flat": flat}, "judges"))
    text = console.export_text()
    assert "0.8000 (75%)" in text and "0.8000 (–)" in text and "0.9000 (100%)" in text
    data = rows_to_json([], {"r18": rows, "flat": flat})["judges"]
    assert data["r18"]["mine"] == {"top1": 0.8, "recovered": pytest.approx(0.75)}
    assert data["flat"]["mine"]["recovered"] is None


def test_cli_judge_option_and_json(cli, judged, tmp_path: Path) -> None:
    import yaml

    raw = judged["raw"]
    extra = raw["compare"].pop("judges")
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw))
    spec = json.dumps(extra[1]["teacher"])  # JSON is YAML: the same text works in a shell
    out = tmp_path / "compare.json"
    result = cli("compare", path, "--judge", f"conv={spec}", "--json", out)
    assert result.exit_code == 0, result.output
    assert "tiny: judges" in result.stdout and "conv" in result.stdout
    data = json.loads(out.read_text())
    assert list(data["judges"]) == ["conv"]
    assert set(data["judges"]["conv"]) == {"original", "bilinear", "bicubic"}
    assert set(data["judges"]["conv"]["bicubic"]) == {"top1", "top5", "ce", "agreement", "recovered"}


@pytest.mark.parametrize("spec", ["conv", "conv=", "=({type: timm})", "conv=[1, 2]", "conv={a: [}"])
def test_cli_rejects_a_malformed_judge(cli, flatten, write_recipe, tmp_path: Path, spec: str) -> None:
    out = tmp_path / "compare.json"
    result = cli("compare", write_recipe(), "--judge", spec, "--json", out)
    assert result.exit_code == 1
    assert "expected NAME={type: …, …}" in flatten(result.output)
    assert not out.exists()


def bad_judges(case: str, files: dict[str, Path], tmp_path: Path) -> tuple[list[dict[str, Any]], str]:
    if case == "classes":
        return [judge("wide", files["wide"])], "compare.judges 'wide' has 12 classes but the data set has 10"
    if case == "label_map":
        return [judge("wide", files["wide"], label_map=[0, 1, 2])], "label_map has 3 entries"
    if case == "weights":
        return [judge("b", files["b"])], "compare.judges 'b'"  # a convnext file for a resnet
    if case == "missing":
        return [judge("gone", tmp_path / "gone.safetensors")], "compare.judges (gone).teacher.weights"
    return [judge("a", files["a"]), judge("a", files["a"])], "used more than once: a"


@pytest.mark.parametrize("case", ["classes", "label_map", "weights", "missing", "duplicate"])
def test_bad_judges_fail_before_anything_is_written(cli, flatten, judged, tmp_path: Path, case: str) -> None:
    import yaml

    raw = judged["raw"]
    raw["compare"]["judges"], message = bad_judges(case, judged["files"], tmp_path)
    if case == "classes":
        raw["compare"]["judges"][0]["teacher"]["num_classes"] = 12
    if case == "label_map":
        raw["compare"]["judges"][0]["teacher"]["num_classes"] = 12
    if case == "duplicate":
        with pytest.raises(RecipeError, match=message):
            validate_recipe(raw)
    elif case != "missing":
        with pytest.raises(UserError, match=message.replace("(", r"\(")):
            compare(validate_recipe(raw), quiet())
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "compare.json"
    result = cli("compare", path, "--json", out)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert message in flatten(result.output)
    assert not out.exists()
