"""Device, precision and speed switches of the recipe's runtime section."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from srdistill.engine.build import build
from srdistill.engine.devices import autocast, configure, select_device
from srdistill.errors import UserError
from srdistill.recipe.loading import validate_recipe
from srdistill.recipe.sections import RuntimeConfig


def test_autocast_is_bf16_only_when_asked() -> None:
    cpu = torch.device("cpu")
    a, b = torch.rand(4, 4), torch.rand(4, 4)
    with autocast(RuntimeConfig(amp="bf16"), cpu):
        assert (a @ b).dtype == torch.bfloat16
    with autocast(RuntimeConfig(), cpu):
        assert (a @ b).dtype == torch.float32
    with autocast(None, cpu):
        assert (a @ b).dtype == torch.float32


def test_configure_on_cpu_changes_nothing() -> None:
    before = torch.backends.cudnn.benchmark
    configure(RuntimeConfig(tf32=False), torch.device("cpu"))
    assert torch.backends.cudnn.benchmark == before


def test_cuda_asked_without_cuda_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(UserError, match="CUDA is not available"):
        select_device("cuda")


@pytest.mark.parametrize("channels_last", [True, False])
def test_channels_last_switch(make_recipe, tmp_path, channels_last: bool) -> None:
    recipe = validate_recipe(make_recipe(tmp_path, runtime={"channels_last": channels_last}))
    parts = build(recipe, "train", torch.device("cpu"))
    for weight in (parts.student.net.conv_body.weight, parts.teacher.model.layer1[0].conv1.weight):
        assert weight.is_contiguous(memory_format=torch.channels_last) == channels_last
        assert weight.is_contiguous() != channels_last


def test_bf16_training_and_compare_run(cli, write_recipe, tmp_path) -> None:
    """The whole bf16 path on CPU: training losses and validation stay finite, compare works."""
    recipe = write_recipe(runtime={"amp": "bf16"})
    result = cli("train", recipe)
    assert result.exit_code == 0, result.output
    with open(tmp_path / "runs" / "tiny" / "metrics.csv") as f:
        row = next(csv.DictReader(f))
    assert math.isfinite(float(row["train_loss"])) and math.isfinite(float(row["val_ce_gap"]))
    best = tmp_path / "runs" / "tiny" / "best.safetensors"
    result = cli("compare", recipe, "--set", f"compare.checkpoints=[{{name: s, path: {best}}}]")
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_compiled_training_runs(cli, write_recipe) -> None:
    result = cli("train", write_recipe(runtime={"compile": True}))
    assert result.exit_code == 0, result.output
