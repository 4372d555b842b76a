"""Exact resume: a run killed anywhere and started again ends with bit-identical weights and one row per epoch."""

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


#: the runs killed and resumed: one trained network, one with a weight average, two trained networks
VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "ema": {"ema": {"decay": 0.9, "warmup": True}},
    "joint": {"fit": "joint", "student": {"optimizer": {"name": "adam", "lr": 1e-3}, "ema": {"decay": 0.9}},
              "classifier": {"optimizer": {"name": "adamw", "lr": 1e-3}, "grad_clip": 1.0}, "mix_grid": 4},
}  # fmt: skip
#: the weights files each variant leaves
FILES = {"plain": ["last"], "ema": ["last", "last_raw"], "joint": ["last", "last_raw", "classifier_last"]}


def resumable_recipe(make_recipe, folder: Path, variant: str = "plain", **train: Any) -> Path:
    recipe: dict[str, Any] = make_recipe(folder)
    recipe["run"]["dir"] = str(folder / "run")
    if variant == "joint":
        recipe["train"].pop("optimizer")
    recipe["train"] |= VARIANTS[variant]
    recipe["train"] |= {
        "epochs": EPOCHS,
        "batch_size": 8,
        "max_steps_per_epoch": STEPS_PER_EPOCH,
        "checkpoint_every": 1,
        "log_every": 1,
        **train,
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


def weights(run: Path, variant: str = "plain") -> dict[str, torch.Tensor]:
    """Every weights file the run left, keys prefixed with the file's name."""
    return {f"{f}/{k}": v for f in FILES[variant] for k, v in load_file(str(run / f"{f}.safetensors")).items()}


def validation_columns(run: Path) -> list[dict[str, str]]:
    import csv

    with (run / "metrics.csv").open() as f:
        return [
            {k: v for k, v in row.items() if k not in ("seconds", "train_images_per_s")} for row in csv.DictReader(f)
        ]


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory, make_recipe):
    """``references(variant)``: the uninterrupted run's weights and metrics, trained once per variant."""
    done: dict[str, dict[str, Any]] = {}

    def get(variant: str = "plain") -> dict[str, Any]:
        if variant not in done:
            folder = tmp_path_factory.mktemp(f"uninterrupted_{variant}")
            code, out = finish(srdistill("train", str(resumable_recipe(make_recipe, folder, variant))))
            assert code == 0, out
            run = folder / "run"
            done[variant] = {"weights": weights(run, variant), "metrics": validation_columns(run), "variant": variant}
        return done[variant]

    return get


@pytest.fixture
def reference(references) -> dict[str, Any]:
    return references("plain")


def faulty(fault: str, recipe: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200", "OMP_WAIT_POLICY": "PASSIVE"}
    script = Path(__file__).with_name("faulty_train.py")
    return subprocess.Popen(
        [sys.executable, str(script), fault, str(recipe)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=env,
    )  # fmt: skip


#: where a kill lands: a random step (snapshots every step), a step of epoch 1 before any
#: snapshot exists, between an epoch's metrics row and its snapshot, and half-way through a snapshot
KINDS = ("step", "before_first_snapshot", "epoch_boundary", "during_snapshot")


def kill(make_recipe, folder: Path, kind: str, rng: random.Random, variant: str = "plain") -> Path:
    """Start the run, kill it (SIGKILL) as ``kind`` says, and return its recipe."""
    if kind == "before_first_snapshot":
        recipe = resumable_recipe(make_recipe, folder, variant, checkpoint_every=0, checkpoint_minutes=0)
        proc = srdistill("train", str(recipe))
        run_until(proc, 1, rng.randint(1, STEPS_PER_EPOCH - 1))
        proc.send_signal(signal.SIGKILL)
        assert not list((folder / "run").glob("resume/step-*"))
    elif kind == "step":
        recipe = resumable_recipe(make_recipe, folder, variant)
        # the line of step k is printed before step k's snapshot: from epoch 1, step 2 on there is one
        epoch = rng.randint(1, EPOCHS)
        proc = srdistill("train", str(recipe))
        run_until(proc, epoch, rng.randint(2 if epoch == 1 else 1, STEPS_PER_EPOCH - 1))
        proc.send_signal(signal.SIGKILL)
    elif kind == "epoch_boundary":
        recipe = resumable_recipe(make_recipe, folder, variant)
        proc = faulty(f"row:{rng.randint(1, EPOCHS)}", recipe)
    else:
        recipe = resumable_recipe(make_recipe, folder, variant)
        proc = faulty(f"snapshot:{rng.randint(1, EPOCHS * STEPS_PER_EPOCH)}", recipe)
    code, out = finish(proc)
    assert code == -signal.SIGKILL, out
    assert not (folder / "run" / "summary.json").exists()
    return recipe


def kill_and_resume(make_recipe, folder: Path, kind: str, seed: int, variant: str = "plain") -> None:
    recipe = kill(make_recipe, folder, kind, random.Random(seed), variant)
    complete = list((folder / "run").glob("resume/step-*"))  # a half-written snapshot is not among them
    if kind == "during_snapshot":
        assert list((folder / "run").glob("resume/.tmp-step-*")), "the kill left no half-written snapshot"
    code, out = finish(srdistill("train", str(recipe)))
    assert code == 0, out
    assert ("resuming" in out) == bool(complete), out  # else it starts again: nothing to resume from
    assert kind != "before_first_snapshot" or not complete


def assert_same_run(folder: Path, reference: dict[str, Any]) -> None:
    """Bit-identical weights, the same validation values, and each epoch's row exactly once."""
    resumed = weights(folder / "run", reference["variant"])
    assert resumed.keys() == reference["weights"].keys()
    for key, value in reference["weights"].items():
        assert torch.equal(resumed[key], value), key
    assert validation_columns(folder / "run") == reference["metrics"]
    assert not (folder / "run" / "resume").exists()  # snapshots are dropped once the run is finished
    assert not (folder / "run" / ".lock").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_killed_then_resumed_is_bit_identical(tmp_path, make_recipe, reference, kind: str) -> None:
    kill_and_resume(make_recipe, tmp_path, kind, seed=0)
    assert_same_run(tmp_path, reference)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10, 20))
def test_ten_random_kills(tmp_path, make_recipe, reference, seed: int) -> None:
    """Each kind of kill two or three times, at random places."""
    kill_and_resume(make_recipe, tmp_path, KINDS[seed % len(KINDS)], seed)
    assert_same_run(tmp_path, reference)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["ema", "joint"])
@pytest.mark.parametrize("seed", range(30, 34))
def test_random_kills_of_an_averaged_and_a_two_network_run(tmp_path, make_recipe, references, variant: str,
                                                           seed: int) -> None:  # fmt: skip
    kill_and_resume(make_recipe, tmp_path, KINDS[seed % len(KINDS)], seed, variant)
    assert_same_run(tmp_path, references(variant))


def test_a_two_network_run_killed_mid_epoch_resumes_bit_identically(tmp_path, make_recipe, references) -> None:
    kill_and_resume(make_recipe, tmp_path, "step", seed=5, variant="joint")
    assert_same_run(tmp_path, references("joint"))


def test_a_resume_with_other_logging_settings_records_them_and_trains_the_same(
    tmp_path, make_recipe, reference
) -> None:
    """Logging settings are not part of the run: a resume may change them, and recipe.yaml then says so."""
    recipe = kill(make_recipe, tmp_path, "step", random.Random(1))
    saved = yaml.safe_load((tmp_path / "run" / "recipe.yaml").read_text())
    assert saved["train"]["log_every"] == 1 and saved["train"]["tensorboard"] is not False
    code, out = finish(
        srdistill("train", str(recipe), "--set", "train.log_every=3", "--set", "train.tensorboard=false")
    )
    assert code == 0 and "resuming" in out, out
    saved = yaml.safe_load((tmp_path / "run" / "recipe.yaml").read_text())
    assert saved["train"]["log_every"] == 3 and saved["train"]["tensorboard"] is False
    assert_same_run(tmp_path, reference)


def test_a_snapshot_of_the_first_layout_resumes_bit_identically(tmp_path, make_recipe, reference) -> None:
    """A run killed under srdistill 0.1 (weights in model.safetensors, counters with the progress) continues."""
    from srdistill.checkpoints import save_weights
    from srdistill.checkpoints.snapshots import OLD_WEIGHTS, STATE, snapshots

    recipe = resumable_recipe(make_recipe, tmp_path)
    proc = srdistill("train", str(recipe))
    run_until(proc, 2, 2)
    proc.send_signal(signal.SIGKILL)
    finish(proc)
    for path in snapshots(tmp_path / "run"):  # written back in the first layout
        state = torch.load(path / STATE, weights_only=True)
        net = state["networks"]["student"]
        progress = state["progress"] | {"nonfinite": net["guard"]["skipped"], "nonfinite_run": net["guard"]["run"],
                                        "sums": net["sums"]}  # fmt: skip
        progress.pop("train_seconds")
        old = {"progress": progress, "optimizer": net["optimizer"], "scheduler": net["scheduler"],
               "rng": state["rng"], "ema": net["average"]}  # fmt: skip
        torch.save(old, path / STATE)
        save_weights(_Tensors(net["weights"]), path / OLD_WEIGHTS)
    code, out = finish(srdistill("train", str(recipe)))
    assert code == 0 and "resuming" in out, out
    assert_same_run(tmp_path, reference)


class _Tensors(torch.nn.Module):
    """A state dict with a module's ``state_dict()``, for save_weights."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.state = state

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:  # type: ignore[override]
        return self.state


@pytest.mark.parametrize("how", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)])
def test_sigterm_and_sigint_save_and_exit_cleanly(tmp_path, make_recipe, reference, how) -> None:
    recipe = resumable_recipe(make_recipe, tmp_path)
    proc = srdistill("train", str(recipe))
    run_until(proc, 1, 3)
    proc.send_signal(how)
    code, out = finish(proc)
    assert code == 128 + how, out  # a clean stop: snapshot saved, exit 128 + signal, no traceback
    assert "run the same command again to resume" in out and "Traceback" not in out
    code, out = finish(srdistill("train", str(recipe)))
    assert code == 0 and "resuming" in out, out
    assert_same_run(tmp_path, reference)
