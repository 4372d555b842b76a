"""The shard read benchmark runs end to end and prints every rate it promises (values are not judged)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_shard_read_reports_each_case(tmp_path: Path) -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "shard_read.py"), "--images", "8", "--size", "64x48",
               "--per-shard", "3", "--rounds", "2"]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "8 JPEGs of 64x48 in 3 shards" in proc.stdout
    for case in ("folder bytes", "shard bytes", "folder items", "shard items"):
        assert re.search(rf"{case} *: +[\d,]+ images/s per core \(median of 2", proc.stdout), case
