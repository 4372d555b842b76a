"""Exact resume: a run killed at a random step and started again ends with bit-identical weights."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file

STEPS_PER_EPOCH = 5
EPOCHS = 2


def resumable_recipe(make_recipe, folder: Path) -> Path:
    recipe: dict[str, Any] = make_recipe(folder)
    recipe["run"]["dir"] = str(folder / "run")
    recipe["train"] |= {
        "epochs": EPOCHS,
        "batch_size": 8,
        "max_steps_per_epoch": STEPS_PER_EPOCH,
        "checkpoint_every": 1,
        "log_every": 1,
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def srdistill(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200", "OMP_WAIT_POLICY": "PASSIVE"}
    return subprocess.Popen(
        [sys.executable, "-m", "srdistill", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=300)
    return proc.returncode, out


def run_until(proc: subprocess.Popen[str], epoch: int, step: int) -> str:
    """Read the plain progress lines until ``epoch e/E step/S`` appears; return what was read."""
    assert proc.stdout is not None
    seen = []
    marker = f"epoch {epoch}/{EPOCHS} {step}/{STEPS_PER_EPOCH} "
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(marker):
            return "".join(seen)
    raise AssertionError("the run ended before the step to interrupt:\n" + "".join(seen))


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "last.safetensors"))


def validation_columns(run: Path) -> list[dict[str, str]]:
    import csv

    with (run / "metrics.csv").open() as f:
        return [
            {k: v for k, v in row.items() if k not in ("seconds", "train_images_per_s")} for row in csv.DictReader(f)
        ]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, make_recipe) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("uninterrupted")
    recipe = resumable_recipe(make_recipe, folder)
    code, out = finish(srdistill("train", str(recipe)))
    assert code == 0, out
    return {"weights": weights(folder / "run"), "metrics": validation_columns(folder / "run")}


def kill_and_resume(make_recipe, folder: Path, seed: int, how: signal.Signals) -> None:
    rng = random.Random(seed)
    # the line of step k is printed after step k - 1's snapshot: from epoch 1, step 2 on there is one
    epoch = rng.randint(1, EPOCHS)
    step = rng.randint(2 if epoch == 1 else 1, STEPS_PER_EPOCH - 1)
    recipe = resumable_recipe(make_recipe, folder)
    proc = srdistill("train", str(recipe))
    run_until(proc, epoch, step)
    proc.send_signal(how)
    code, out = finish(proc)
    if how == signal.SIGKILL:
        assert code == -signal.SIGKILL
    else:  # a clean stop: snapshot saved, exit 128 + signal, no traceback
        assert code == 128 + how, out
        assert "run the same command again to resume" in out and "Traceback" not in out
    assert not (folder / "run" / "summary.json").exists()
    code, out = finish(srdistill("train", str(recipe)))
    assert code == 0, out
    assert "resuming" in out


def assert_same_run(folder: Path, reference: dict[str, Any]) -> None:
    resumed = weights(folder / "run")
    assert resumed.keys() == reference["weights"].keys()
    for key, value in reference["weights"].items():
        assert torch.equal(resumed[key], value), key
    assert validation_columns(folder / "run") == reference["metrics"]
    assert not (folder / "run" / "resume").exists()  # snapshots are dropped once the run is finished


@pytest.mark.parametrize("seed", [0, 1])
def test_sigkill_at_a_random_step_then_resume_is_bit_identical(tmp_path, make_recipe, reference, seed) -> None:
    kill_and_resume(make_recipe, tmp_path, seed, signal.SIGKILL)
    assert_same_run(tmp_path, reference)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10, 20))
def test_sigkill_and_resume_ten_times(tmp_path, make_recipe, reference, seed) -> None:
    kill_and_resume(make_recipe, tmp_path, seed, signal.SIGKILL)
    assert_same_run(tmp_path, reference)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_save_and_exit_cleanly(tmp_path, make_recipe, reference, how) -> None:
    kill_and_resume(make_recipe, tmp_path, 3, how)
    assert_same_run(tmp_path, reference)
