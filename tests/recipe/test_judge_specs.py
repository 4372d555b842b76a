"""--judge NAME=TEACHER_SPEC: an inline YAML mapping or a YAML file holding it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from srdistill.errors import UserError
from srdistill.recipe.judge_specs import add_judges

TEACHER = {"type": "timm", "model": "resnet18", "weights": "r18.safetensors"}


def judges(*specs: str) -> list[dict[str, Any]]:
    raw: dict[str, Any] = {"compare": {"judges": [{"name": "kept", "teacher": {"type": "timm"}}]}}
    add_judges(raw, specs, "recipe.yaml")
    return raw["compare"]["judges"]


def test_inline_and_file_specs_give_the_same_judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "judges").mkdir()
    (tmp_path / "judges" / "r18.yaml").write_text("type: timm\nmodel: resnet18\nweights: r18.safetensors\n")
    monkeypatch.chdir(tmp_path)  # relative paths start at the current directory
    inline = "r18={type: timm, model: resnet18, weights: r18.safetensors}"
    found = judges(inline, "r18b=judges/r18.yaml", f"r18c={tmp_path / 'judges' / 'r18.yaml'}")
    assert [j["name"] for j in found] == ["kept", "r18", "r18b", "r18c"]
    assert found[1]["teacher"] == found[2]["teacher"] == found[3]["teacher"] == TEACHER


def test_a_label_map_in_a_file_goes_to_the_judge(tmp_path: Path) -> None:
    path = tmp_path / "wide.yaml"
    path.write_text("type: timm\nmodel: resnet18\nlabel_map: [0, 1, 1]\n")
    (_, judge) = judges(f"wide={path}")
    assert judge["label_map"] == [0, 1, 1] and "label_map" not in judge["teacher"]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("r18=nowhere/r18.yaml", "nowhere/r18.yaml is not a file"),
        ("r18=list.yaml", "expected NAME={type: …, …} or NAME=FILE.yaml holding that mapping"),
        ("r18={type: timm, type: timm}", "expected NAME={type: …, …}"),  # a key given twice
    ],
)
def test_bad_specs_are_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str, words: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "list.yaml").write_text("[1, 2]\n")
    with pytest.raises(UserError) as e:
        judges(spec)
    assert words in e.value.problem and "r18=r18.yaml" in (e.value.fix or "")
