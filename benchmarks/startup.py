"""Start-up time of the command line, and what `srdistill list` imports.

    python benchmarks/startup.py [--runs 7]

Runs ``srdistill --help`` and ``srdistill list`` as fresh processes and prints the median wall
time of each, then the heavy packages that ``list`` pulled in (basicsr, cv2 and skimage must
not be among them: they load only when an RRDB network is built).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).with_name("srdistill")
HEAVY = ("torch", "timm", "kornia", "torchvision", "basicsr", "cv2", "skimage")


def median_seconds(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(BIN), *args], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    for command in (["--help"], ["list"]):
        print(f"srdistill {' '.join(command)}: median {median_seconds(command, args.runs):.3f} s over {args.runs} runs")
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom srdistill.cli import app\n"
        "assert CliRunner().invoke(app, ['list']).exit_code == 0\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    print(f"heavy packages imported by srdistill list: {loaded}")


if __name__ == "__main__":
    main()
