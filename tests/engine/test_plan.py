"""train --dry-run: what a recipe builds, its sizes and its cost, without writing anything."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from rich.console import Console
from torch import nn

from srdistill.engine.build import build
from srdistill.engine.cost import count_flops, on_meta
from srdistill.engine.plan import describe, params
from srdistill.recipe import load_recipe


def render(renderable) -> str:
    console = Console(width=250, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def test_dry_run_prints_stage_shapes_and_writes_nothing(cli, write_recipe, tmp_path: Path) -> None:
    result = cli("train", write_recipe(), "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for shape in ("1×28×28", "1×9×9", "1×36×36"):
        assert shape in out
    assert "name: tiny" in out  # the resolved recipe is shown
    assert "dry run: fit student" in out and "Nothing was written" in out
    assert not (tmp_path / "runs").exists()


def test_dry_run_with_overrides(cli, write_recipe, tmp_path: Path) -> None:
    result = cli(
        "train", write_recipe(), "--dry-run", "--set", "degradation.factor=0.5", "--set", "student.scale=2",
        "--set", "train.epochs=7",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1×14×14" in result.stdout and "1×28×28" in result.stdout  # 28 → 14 → ×2 network
    assert "7 epochs" in result.stdout
    assert not (tmp_path / "runs").exists()


def test_dry_run_of_a_teacher_fit(cli, write_recipe, tmp_path: Path) -> None:
    result = cli("train", write_recipe(student=None, losses=None, train={"fit": "teacher"}), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: fit teacher" in result.stdout
    assert "degradation bicubic" not in result.stdout  # no student stages
    assert "teacher test_resnet" in result.stdout
    assert "training step (teacher fwd+bwd)" in result.stdout  # its cost, BatchNorm in a batch of one included
    assert not (tmp_path / "runs").exists()


def test_a_pixel_student_step_runs_no_teacher(cli, write_recipe) -> None:
    result = cli("train", write_recipe(losses=[{"type": "pixel_l1"}]), "--dry-run")
    assert result.exit_code == 0 and "training step (student fwd+bwd, no teacher)" in result.stdout, result.output


@pytest.mark.parametrize("scale", [1, 2])
def test_dry_run_with_a_pixel_unshuffle_student_on_odd_sizes(cli, write_recipe, scale: int) -> None:
    """student.scale 1 and 2 are valid recipe values; 28 px originals shrink to 9 px, which
    basicsr's pixel-unshuffle cannot divide. That must be handled or reported, not crash."""
    result = cli("train", write_recipe(), "--dry-run", "--set", f"student.scale={scale}")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 0:
        assert "1×28×28" in result.stdout
    else:
        assert result.exit_code == 1 and "scale" in result.stderr


def test_describe_tables(write_recipe) -> None:
    recipe = load_recipe(write_recipe(losses=[{"type": "logit_mse"}, {"type": "pixel_l1", "weight": 0.5}]))
    parts = build(recipe, "train", torch.device("cpu"))
    text = render(describe(recipe, parts))
    student_params = sum(p.numel() for p in parts.student.parameters())
    teacher_params = sum(p.numel() for p in parts.teacher.parameters())
    assert f"{student_params:,}" in text and f"{teacher_params:,}" in text
    assert "1·logit_mse + 0.5·pixel_l1" in text
    assert "fashion_mnist" in text and "200" in text and "40" in text and "60" in text  # split sizes
    assert "training step" in text
    # describe works on meta copies: the real modules are untouched
    assert all(p.device.type == "cpu" for p in parts.student.parameters())


def test_params_and_on_meta() -> None:
    net = nn.Linear(3, 2)
    net.bias.requires_grad_(False)
    assert params(net) == (8, 6)
    assert params(None) == (0, 0)
    meta = on_meta(net)
    assert meta.weight.device.type == "meta" and net.weight.device.type == "cpu"


def test_count_flops() -> None:
    net = nn.Linear(10, 4, bias=False)
    x = torch.zeros(3, 10)
    assert count_flops(lambda: net(x)) == 2 * 3 * 10 * 4
    meta_net, meta_x = on_meta(net), torch.zeros(3, 10, device="meta")
    assert count_flops(lambda: meta_net(meta_x)) == 2 * 3 * 10 * 4


@pytest.mark.parametrize(("inputs", "says"), [("degraded", "every image"), ("mixed", "half the images, at random")])
def test_a_classifier_fitted_on_degraded_inputs_shows_its_degradation(
    cli, write_recipe, inputs: str, says: str
) -> None:
    result = cli(
        "train", write_recipe(student=None, losses=None, train={"fit": "teacher", "inputs": inputs}), "--dry-run"
    )
    assert result.exit_code == 0, result.output
    assert "degradation bicubic" in result.stdout and "1×9×9" in result.stdout
    assert f"bicubic upscale → classifier input ({says})" in result.stdout
