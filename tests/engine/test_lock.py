"""The run-folder lock: a second run is refused while the first trains; a killed run's lock is taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from srdistill.engine.lock import LOCK_FILE, RunLock
from srdistill.errors import UserError

HOLD = """
import sys, time
from pathlib import Path
from srdistill.engine.lock import RunLock
RunLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(120)
"""


def holder(folder: Path) -> subprocess.Popen[str]:
    """Another process that takes the lock and keeps it until it is killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_holder_is_refused_with_the_first_ones_name(tmp_path: Path) -> None:
    proc = holder(tmp_path)
    try:
        with pytest.raises(UserError, match=f"in use by another training run \\(pid {proc.pid} on") as info:
            RunLock(tmp_path).acquire()
        assert "run.dir" in str(info.value)
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_holders_lock_is_taken_over_and_reported(tmp_path: Path) -> None:
    proc = holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == proc.pid  # left behind
    with RunLock(tmp_path) as lock:
        assert lock.stale is not None and f"pid {proc.pid}" in lock.stale
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_FILE).exists()  # a normal release leaves nothing


def test_release_lets_the_next_run_in(tmp_path: Path) -> None:
    with RunLock(tmp_path) as first:
        assert first.stale is None
    with RunLock(tmp_path) as second:
        assert second.stale is None


def test_two_trainings_into_one_folder(cli, write_recipe, tmp_path: Path, flatten) -> None:
    """The second `srdistill train` fails at once, naming the first, and leaves its run untouched."""
    recipe = write_recipe(train={"epochs": 1, "batch_size": 8, "max_steps_per_epoch": 1, "log_every": 1})
    run = tmp_path / "runs" / "tiny"
    proc = holder(run)
    try:
        result = cli("train", recipe)
        assert result.exit_code == 1
        assert f"in use by another training run (pid {proc.pid}" in flatten(result.output)
        assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]
    finally:
        proc.kill()
        proc.wait()
    result = cli("train", recipe)  # the lock of the killed holder is taken over
    assert result.exit_code == 0, result.output
    assert "taking over the lock of a run that was killed" in flatten(result.output)
    assert not (run / LOCK_FILE).exists() and (run / "summary.json").is_file()
