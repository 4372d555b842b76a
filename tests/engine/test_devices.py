"""Device, precision and speed switches of the recipe's runtime section."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from srdistill.engine.build import build
from srdistill.engine.devices import RowTimer, autocast, compile_module, configure, repeated_blocks, select_device
from srdistill.errors import UserError
from srdistill.recipe.loading import load_recipe, validate_recipe
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


@pytest.mark.parametrize(("written", "mode"), [("true", "default"), ("false", "none"), ("regional", "regional")])
def test_compile_choices_and_the_old_boolean(write_recipe, written: str, mode: str) -> None:
    path = write_recipe()
    path.write_text(path.read_text() + f"runtime: {{compile: {written}}}\n")
    assert load_recipe(path).runtime.compile == mode


def test_an_unknown_compile_mode_names_the_choices(cli, write_recipe, flatten) -> None:
    result = cli("train", write_recipe(runtime={"compile": "fast"}), "--dry-run")
    assert result.exit_code != 0
    assert "runtime.compile" in flatten(result.stderr) and "max-autotune-no-cudagraphs" in flatten(result.stderr)


def test_repeated_blocks_are_rrdbs_and_bottlenecks() -> None:
    import timm

    from srdistill.compat.basicsr import rrdbnet_class

    rrdb = rrdbnet_class()(3, 3, num_feat=8, num_block=5, num_grow_ch=4)
    assert repeated_blocks(rrdb) == list(rrdb.body)
    resnet = timm.create_model("resnet50", pretrained=False)
    blocks = repeated_blocks(resnet)
    assert len(blocks) == 3 + 4 + 6 + 3 and {type(b).__name__ for b in blocks} == {"Bottleneck"}


@pytest.mark.slow
def test_regional_compile_traces_one_block_for_all_and_matches_eager() -> None:
    from torch._dynamo.utils import counters

    from srdistill.compat.basicsr import rrdbnet_class

    torch.manual_seed(0)
    net = rrdbnet_class()(3, 3, num_feat=8, num_block=4, num_grow_ch=4)
    x = torch.rand(2, 3, 10, 10)
    expected = net(x)
    torch._dynamo.reset()
    counters.clear()
    compile_module(net, "regional")
    keys = list(net.state_dict())
    out = net(x)
    out.mean().backward()
    assert counters["stats"]["unique_graphs"] == 1  # four blocks, one graph
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    assert list(net.state_dict()) == keys and "body.0.rdb1.conv1.weight" in keys


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["regional", "max-autotune-no-cudagraphs"])
def test_compiled_training_runs(cli, write_recipe, mode: str) -> None:
    result = cli("train", write_recipe(runtime={"compile": mode}))
    assert result.exit_code == 0, result.output


def test_row_timer_keeps_rows_apart() -> None:
    timer = RowTimer(torch.device("cpu"))
    with timer("a"):
        torch.rand(64, 64) @ torch.rand(64, 64)
    assert timer.seconds("a") > 0 and timer.seconds("b") == 0
