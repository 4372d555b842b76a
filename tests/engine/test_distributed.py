"""torchrun: two CPU processes (gloo) train like one process, and restarts resume."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file


def recipe_file(make_recipe, folder: Path, name: str, fit: str = "student") -> Path:
    recipe: dict[str, Any] = make_recipe(folder)
    recipe["run"]["dir"] = str(folder / name)
    recipe["train"] |= {"epochs": 2, "batch_size": 16, "max_steps_per_epoch": 4, "val_batch_size": 16}
    if fit == "teacher":
        recipe["train"]["fit"] = "teacher"
        recipe.pop("student")
        recipe["losses"] = []
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)


def torchrun(recipe: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run([
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc_per_node=2",
        *extra, "-m", "srdistill", "train", str(recipe),
    ])  # fmt: skip


def metrics(run_dir: Path) -> list[dict[str, float]]:
    with (run_dir / "metrics.csv").open() as f:
        return [
            {k: float(v) for k, v in row.items() if k not in ("seconds", "train_images_per_s")}
            for row in csv.DictReader(f)
        ]


@pytest.mark.parametrize("fit", ["student", "teacher"])
def test_two_processes_match_one(tmp_path: Path, make_recipe, fit: str) -> None:
    """The global batch is split over the processes and gradients are averaged, so training the
    student (no BatchNorm in training mode) matches one process up to float rounding. Fitting the
    teacher on CPU normalises each process's half batch in its BatchNorm layers (SyncBatchNorm
    needs CUDA), so there the test checks that the run completes with every value finite."""
    single = run([sys.executable, "-m", "srdistill", "train", str(recipe_file(make_recipe, tmp_path, "one", fit))])
    assert single.returncode == 0, single.stderr
    double = torchrun(recipe_file(make_recipe, tmp_path, "two", fit))
    assert double.returncode == 0, double.stderr[-3000:]
    # only the first process prints and writes
    assert double.stderr.count("fit ") == 1 and "× 2 processes" in double.stderr
    one, two = metrics(tmp_path / "one"), metrics(tmp_path / "two")
    assert [r["epoch"] for r in two] == [1.0, 2.0]
    if fit == "teacher":
        assert all(math.isfinite(v) for row in two for v in row.values())
        return
    for a, b in zip(one, two, strict=True):
        for key in a:
            if key.startswith(("val_", "train_")):
                assert b[key] == pytest.approx(a[key], rel=1e-3, abs=1e-4), key
    w1, w2 = (
        load_file(str(tmp_path / "one" / "last.safetensors")),
        load_file(str(tmp_path / "two" / "last.safetensors")),
    )
    for key in w1:
        assert torch.allclose(w1[key], w2[key], atol=1e-4), key


def worker_pids(parent: int) -> list[int]:
    """Processes started (directly or not) by ``parent`` that run srdistill."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [parent]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            try:
                if b"srdistill" in (Path("/proc") / str(child) / "cmdline").read_bytes():
                    found.append(child)
            except OSError:
                pass
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the worker processes")
def test_torchrun_restart_resumes_from_the_last_snapshot(tmp_path: Path, make_recipe) -> None:
    import signal

    path = recipe_file(make_recipe, tmp_path, "restart")
    recipe = yaml.safe_load(path.read_text())
    recipe["train"]["log_every"] = 1
    path.write_text(yaml.safe_dump(recipe))
    env = {**os.environ, "COLUMNS": "200", "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc_per_node=2",
         "--max-restarts=1", "-m", "srdistill", "train", str(path)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # wait until epoch 1 is done and snapshotted
        seen.append(line)
        if line.startswith("epoch 2/2 1/4"):
            break
    workers = worker_pids(proc.pid)
    assert len(workers) == 2, "".join(seen)
    os.kill(workers[1], signal.SIGKILL)  # one worker dies; torchrun restarts the group
    rest = proc.stderr.read()
    assert proc.wait(timeout=600) == 0, "".join(seen) + rest
    assert "resuming" in rest
    rows = metrics(tmp_path / "restart")
    assert [r["epoch"] for r in rows] == [1.0, 2.0]
    assert (tmp_path / "restart" / "summary.json").is_file()
