"""Run a chain of srdistill steps once per seed, each seed in a folder of its own, and summarise
the seeds as mean ± std. scripts/routes.py and scripts/transfer.py are built on it.

Each seed's steps run with that folder as the working directory, so the recipes' relative run
folders (``runs/<name>``) and the checkpoints they name are that seed's; every step gets
``--set seed=<seed>``. A step whose run folder already holds the finished run is skipped by
srdistill itself, so an interrupted script continues where it stopped.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"
#: OpenMP threads that spin while they wait make torch on a busy CPU many times slower; passive waiting
#: costs nothing on an idle one
ENV = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}


@dataclass
class Step:
    """One ``srdistill`` command of the chain (a recipe under recipes/ and its extra arguments)."""

    label: str
    command: str  # train or compare
    recipe: str
    extra: list[str] = field(default_factory=list)


def run_seed(srdistill: str, seed: int, folder: Path, steps: Sequence[Step]) -> dict[str, float]:
    """Every step for ``seed`` in ``folder``; returns each step's wall seconds."""
    if not Path(srdistill).is_file():
        sys.exit(f"{srdistill} does not exist: run `bash scripts/setup.sh` first, or pass --srdistill PATH")
    folder.mkdir(parents=True, exist_ok=True)
    times = {}
    for step in steps:
        args = [srdistill, step.command, str(RECIPES / step.recipe), "--set", f"seed={seed}", *step.extra]
        print(f"== seed {seed}: {step.label}: {' '.join(args[1:])}", flush=True)
        start = time.perf_counter()
        done = subprocess.run(args, cwd=folder, check=False, env=ENV)
        if done.returncode != 0:
            sys.exit(f"seed {seed}: {step.label} failed (exit {done.returncode}); rerun the script to continue")
        times[step.label] = time.perf_counter() - start
    return times


def mean_std(values: Sequence[float | None]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN for fewer than two values or a missing one)."""
    clean = [v for v in values if v is not None and math.isfinite(v)]
    if len(clean) < len(values) or not clean:
        return math.nan, math.nan
    return statistics.fmean(clean), statistics.stdev(clean) if len(clean) > 1 else math.nan


def shown(values: Sequence[float | None], scale: float = 1.0, digits: int = 2) -> str:
    """``mean ± std`` of ``values`` × ``scale``, e.g. ``88.46 ± 0.21``; ``–`` where there is nothing."""
    mean, std = mean_std(values)
    if math.isnan(mean):
        return "–"
    if math.isnan(std):
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def differs(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two rows differ by more than their spread: the gap of the means exceeds the sum of
    the two standard deviations (the rule the README's claims follow)."""
    (ma, sa), (mb, sb) = mean_std(a), mean_std(b)
    return abs(ma - mb) > sa + sb
