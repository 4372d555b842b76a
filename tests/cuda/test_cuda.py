"""What only a CUDA GPU can check: bf16 autocast, channels-last, fused optimizers, compile, training.

Run on a GPU machine with ``pytest -m cuda`` (skipped where CUDA is missing). The tests go through
the command line (``srdistill train`` / ``compare`` of a tiny recipe with ``--set device=cuda``)
and the registries' components, never the engine's internals.
"""

from __future__ import annotations

import copy
import csv
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from srdistill.catalog import catalog
from srdistill.data.base import DataInfo

pytestmark = pytest.mark.cuda

INFO = DataInfo(channels=1, num_classes=10, hr_size=(28, 28), class_names=tuple("abcdefghij"))
TRAIN = {"epochs": 1, "batch_size": 16, "max_steps_per_epoch": 3, "val_batch_size": 64, "log_every": 1,
         "optimizer": {"name": "adamw", "lr": 1e-3}}  # fmt: skip


def train(cli, write_recipe, tmp_path: Path, name: str, *overrides: str) -> dict[str, Any]:
    """Train the tiny recipe on the GPU; returns its one metrics row (floats), checking what every run must give."""
    recipe = write_recipe(train=TRAIN)
    run = tmp_path / name
    result = cli("train", recipe, "--set", "device=cuda", "--set", f"run.dir={run}", *overrides)
    assert result.exit_code == 0, result.output
    assert "fit student on cuda" in result.output
    with (run / "metrics.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    values = {k: float(v) for k, v in row.items()}
    for key in ("train_loss", "val_logit_mse", "val_psnr", "val_ce_gap"):
        assert math.isfinite(values[key]), (key, values)
    assert values["nonfinite_steps"] == 0
    weights = load_file(run / "last.safetensors")
    assert weights and all(torch.isfinite(w).all() for w in weights.values())
    return values


def student(**settings: Any) -> torch.nn.Module:
    entry = catalog().students.get("rrdb")
    cfg = entry.config(type="rrdb", num_feat=16, num_block=2, num_grow_ch=8, **settings)
    return entry.build(cfg, INFO).cuda().eval()


def teacher() -> torch.nn.Module:
    entry = catalog().teachers.get("timm")
    cfg = entry.config(type="timm", model="test_resnet", input_size=28, crop_pct=1.0, mean=[0.5], std=[0.5],
                       interpolation="bilinear")  # fmt: skip
    return entry.build(cfg, INFO).cuda().freeze()


def test_one_training_step_and_compare_on_the_gpu(cli, write_recipe, tmp_path: Path, flatten) -> None:
    values = train(cli, write_recipe, tmp_path, "fp32", "--set", "runtime.amp=none")
    assert values["step"] == 3
    recipe = write_recipe(train=TRAIN)
    ckpt = tmp_path / "fp32" / "best.safetensors"
    result = cli(
        "compare", recipe, "--set", "device=cuda", "--set", f"compare.checkpoints=[{{name: mine, path: {ckpt}}}]"
    )
    assert result.exit_code == 0, result.output
    text = flatten(result.output)
    assert "original" in text and "bicubic" in text and "mine" in text


def test_bf16_autocast(cli, write_recipe, tmp_path: Path) -> None:
    fp32 = train(cli, write_recipe, tmp_path, "fp32", "--set", "runtime.amp=none", "--set", "runtime.tf32=false")
    bf16 = train(cli, write_recipe, tmp_path, "bf16", "--set", "runtime.amp=bf16")
    # three steps from the same start: bf16 rounding moves the numbers, not the outcome
    assert bf16["val_psnr"] == pytest.approx(fp32["val_psnr"], abs=1.0)
    model, lr = student(), torch.rand(2, 1, 9, 9, device="cuda")
    with torch.no_grad():
        exact = model(lr, (28, 28))
        with torch.autocast("cuda", dtype=torch.bfloat16):
            network = model.upscale(lr)
            fast = model(lr, (28, 28))
    # the network runs in bf16; the final resize's dtype is the autocast op list's choice (float32
    # on CUDA with torch 2.11, bf16 on CPU), so only its values are checked
    assert network.dtype == torch.bfloat16 and network.shape == (2, 1, 36, 36)
    assert fast.shape == exact.shape == (2, 1, 28, 28)
    assert (fast.float() - exact).abs().max() < 0.05 * exact.abs().max() + 1e-3


def test_channels_last(cli, write_recipe, tmp_path: Path) -> None:
    default = train(cli, write_recipe, tmp_path, "cl", "--set", "runtime.channels_last=true")
    contiguous = train(cli, write_recipe, tmp_path, "nchw", "--set", "runtime.channels_last=false")
    assert default["val_psnr"] == pytest.approx(contiguous["val_psnr"], abs=0.5)
    model, lr = student(), torch.rand(2, 1, 9, 9, device="cuda")
    with torch.no_grad():
        plain = model(lr, (28, 28))
        model = model.to(memory_format=torch.channels_last)
        cl = model(lr.contiguous(memory_format=torch.channels_last), (28, 28))
    torch.testing.assert_close(cl, plain, atol=2e-3, rtol=2e-3)


def test_gradients_flow_through_the_frozen_teacher_on_the_gpu() -> None:
    net = teacher()
    images = torch.rand(2, 1, 28, 28, device="cuda", requires_grad=True)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = net(images)
    logits.float().sum().backward()
    assert logits.shape == (2, 10) and images.grad is not None and torch.isfinite(images.grad).all()
    assert all(p.grad is None for p in net.parameters())


def test_fused_optimizer_on_the_device(cli, write_recipe, tmp_path: Path) -> None:
    """The fused kernel (one launch for all weights, non-finite steps skipped on the device) trains
    like the per-tensor loop: same start, same batches, the same values after three steps."""
    runs = {}
    for flag in ("true", "false"):
        runs[flag] = train(cli, write_recipe, tmp_path, f"fused-{flag}", "--set", f"train.optimizer.fused={flag}",
                           "--set", "runtime.tf32=false")  # fmt: skip
        assert f"fused: {flag}" in (tmp_path / f"fused-{flag}" / "recipe.yaml").read_text()
    fused, loop = runs["true"], runs["false"]
    assert fused["train_loss"] == pytest.approx(loop["train_loss"], rel=1e-2)
    assert fused["val_psnr"] == pytest.approx(loop["val_psnr"], abs=0.1)


def test_fused_and_unfused_adamw_agree_on_the_device() -> None:
    """The fused kernel srdistill picks on CUDA computes the same update as the per-tensor loop."""
    torch.manual_seed(0)
    models = [student(), student()]
    models[1].load_state_dict(models[0].state_dict())
    optimizers = [
        torch.optim.AdamW(m.parameters(), lr=1e-3, fused=f) for m, f in zip(models, (True, False), strict=True)
    ]
    lr = torch.rand(4, 1, 9, 9, device="cuda")
    for model, optimizer in zip(models, optimizers, strict=True):
        for _ in range(3):
            optimizer.zero_grad()
            model.train()(lr, (28, 28)).square().mean().backward()
            optimizer.step()
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_compile(cli, write_recipe, tmp_path: Path) -> None:
    eager = train(cli, write_recipe, tmp_path, "eager", "--set", "runtime.tf32=false")
    compiled = train(
        cli, write_recipe, tmp_path, "compiled", "--set", "runtime.compile=true", "--set", "runtime.tf32=false"
    )
    assert compiled["val_psnr"] == pytest.approx(eager["val_psnr"], abs=0.5)
    assert compiled["val_logit_mse"] == pytest.approx(eager["val_logit_mse"], rel=0.2, abs=1e-3)


def test_determinism_turns_cudnn_autotuning_off() -> None:
    from srdistill.engine.devices import configure
    from srdistill.recipe.sections import RuntimeConfig

    device = torch.device("cuda")
    configure(RuntimeConfig(), device)
    assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic
    configure(RuntimeConfig(deterministic=True), device)
    assert not torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic
    configure(RuntimeConfig(), device)


def test_row_timer_reads_cuda_events_per_row() -> None:
    from srdistill.engine.devices import RowTimer

    timer = RowTimer(torch.device("cuda"))
    x = torch.rand(2048, 2048, device="cuda")
    for _ in range(3):
        with timer("matmul"):
            x @ x
    assert timer.seconds("matmul") > 0 and timer.seconds("idle") == 0


def test_auto_precision_upscale_of_colour_photos_stays_within_50_db_of_fp32() -> None:
    """The paper's RRDB size (bicubic plus its correction, so the output is a photo) on the four whole photos."""
    from skimage import data

    from srdistill.compat.basicsr import rrdbnet_class
    from srdistill.inference.upscale import on_device, upscale_tensor
    from srdistill.students.base import SuperResolver

    torch.manual_seed(0)
    net = rrdbnet_class()(3, 3, scale=4, num_feat=64, num_block=23, num_grow_ch=32)
    models = {"fp32": SuperResolver(net, residual=True), "auto": SuperResolver(copy.deepcopy(net), residual=True)}
    photos = [torch.from_numpy(getattr(data, n)()[..., :3].copy()).permute(2, 0, 1)[None].float() / 255
              for n in ("astronaut", "chelsea", "coffee", "rocket")]  # fmt: skip
    saved = {}
    for precision in ("fp32", "auto"):  # auto: fp16 on CUDA
        model, dtype = on_device(models[precision], torch.device("cuda"), precision)
        saved[precision] = [upscale_tensor(model, p.cuda().to(dtype), tile=256).mul(255).round() for p in photos]
    mse = torch.stack([(a - b).square().mean() for a, b in zip(saved["fp32"], saved["auto"], strict=True)]).mean()
    assert mse > 0 and 10 * torch.log10(255**2 / mse) > 50
