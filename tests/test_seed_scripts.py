"""scripts/seeds.py, routes.py and transfer.py: mean ± std over seeds and the rule the README's claims
follow (a difference counts only when it is larger than the spread)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import routes  # noqa: E402
import seeds  # noqa: E402


def test_mean_std_and_shown() -> None:
    assert seeds.mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert math.isnan(seeds.mean_std([1.0])[1])
    assert all(math.isnan(v) for v in seeds.mean_std([1.0, None]))  # a seed missing: no mean at all
    assert seeds.shown([0.8846, 0.8830, 0.8850], 100) == "88.42 ± 0.11"
    assert seeds.shown([0.5], 100) == "50.00"
    assert seeds.shown([None]) == "–"


@pytest.mark.parametrize(
    ("a", "b", "real"),
    [
        ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], True),
        ([1.0, 2.0, 3.0], [2.5, 3.0, 3.5], False),
        ([1.0, 1.0], [1.0, 1.0], False),
    ],
)
def test_differs_when_the_gap_of_the_means_exceeds_both_spreads(a: list[float], b: list[float], real: bool) -> None:
    assert seeds.differs(a, b) is real


def test_routes_table_orders_routes_and_reports_each_column() -> None:
    def row(route: str, top1: float) -> dict[str, object]:
        return {"route": route, "top1": top1, "recovered": top1 - 0.5, "top1_original": 0.9, "psnr": 20.0,
                "train_seconds": 10.0}  # fmt: skip

    text, values = routes.table(
        [[row("joint", 0.89), row("original", 0.91)], [row("joint", 0.87), row("original", 0.91)]]
    )
    lines = text.splitlines()
    assert lines[2].startswith("| original classifier on originals") and "| ∞ |" in lines[2]
    cells = [c.strip() for c in lines[3].strip("|").split("|")]
    assert cells == ["joint (logit): SR → its own classifier", "88.00 ± 1.41", "38.0 ± 1.4", "90.00 ± 0.00",
                     "20.00 ± 0.00", "10 ± 0"]  # fmt: skip
    assert values["joint"]["top1"] == [0.89, 0.87]


def test_routes_judges_come_from_the_transfer_recipe_with_that_seeds_weights(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"run scripts/transfer\.py"):
        routes.judge_args(tmp_path)
    for name in routes.JUDGES:
        weights = tmp_path / "runs" / f"fmnist_transfer_{name}" / "best.safetensors"
        weights.parent.mkdir(parents=True)
        weights.write_bytes(b"")
    args = routes.judge_args(tmp_path)
    assert args[0::2] == ["--judge", "--judge"]
    specs = dict(a.split("=", 1) for a in args[1::2])
    assert set(specs) == set(routes.JUDGES)
    vit = yaml.safe_load(specs["vit"])
    assert vit["model"] == "test_vit" and vit["weights"] == str(
        (tmp_path / "runs/fmnist_transfer_vit/best.safetensors").resolve()
    )
