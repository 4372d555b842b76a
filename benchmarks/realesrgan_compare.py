"""``srdistill upscale`` against the peer users run today, Real-ESRGAN's ``RealESRGANer``.

    pip install --no-deps realesrgan      # its other imports (basicsr, cv2, torch) srdistill has
    python benchmarks/realesrgan_compare.py [--device cpu] [--size 192] [--rounds 3] [--json PATH]

Both tools get the same paper-size RRDB weights (64/23/32, random, written as a BasicSR ``.pth``)
and the same three scikit-image colour photos, centre-cropped to ``--size`` pixels and saved as
PNG. Each round runs each tool once as a whole process, the order alternating between rounds:
``srdistill upscale`` (its command line) and a script doing what Real-ESRGAN's
``inference_realesrgan.py`` does (read with OpenCV, ``RealESRGANer.enhance`` without tiles or
padding, write with OpenCV). Reports the median wall time of each, the median of the per-round
ratios, and whether the outputs are bit-identical. On CUDA it also pairs srdistill's fp16
(``--precision auto``) with Real-ESRGAN's ``half=True``.

``--phases`` times each tool's steps instead, one fp32 process each (import, model build, the
network, writing, and the rest: reading and colour conversion), to show where the time goes.
"""

from __future__ import annotations

import argparse
import json
import resource
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ("astronaut", "coffee", "chelsea")

#: Real-ESRGAN as its inference script runs it: argv = weights, input folder, output folder, device, half
PEER = """
import sys, time
from pathlib import Path
start = time.perf_counter()
from srdistill.compat.basicsr import install_torchvision_shim
install_torchvision_shim()  # basicsr 1.4.2 imports a module torchvision 0.17 removed
import cv2, torch
from basicsr.archs.rrdbnet_arch import RRDBNet
from realesrgan import RealESRGANer
imported = time.perf_counter()
weights, source, target, device, half = sys.argv[1:6]
model = RRDBNet(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32, scale=4)
up = RealESRGANer(scale=4, model_path=weights, model=model, tile=0, pre_pad=0, half=half == "1",
                  device=torch.device(device))
built = time.perf_counter()
spent = {"network": 0.0, "writing": 0.0}
process = up.process
def network():
    began = time.perf_counter()
    process()
    spent["network"] += time.perf_counter() - began
up.process = network
Path(target).mkdir(parents=True, exist_ok=True)
for path in sorted(Path(source).glob("*.png")):
    out, _ = up.enhance(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), outscale=4)
    began = time.perf_counter()
    cv2.imwrite(str(Path(target) / path.name), out)
    spent["writing"] += time.perf_counter() - began
done = time.perf_counter()
rest = done - built - spent["network"] - spent["writing"]
print(f"phases: import {imported - start:.2f} s, build {built - imported:.2f} s, network {spent['network']:.2f} s, "
      f"writing {spent['writing']:.2f} s, reading and colour {rest:.2f} s")
"""

#: srdistill's upscale as its command line runs it, its steps timed; argv as PEER's
OURS = """
import sys, time
from pathlib import Path
start = time.perf_counter()
import srdistill.cli
from srdistill.engine.devices import select_device
from srdistill.inference import upscale
from srdistill.inference.student import load_student
from srdistill.students.metadata import check_student_metadata
imported = time.perf_counter()
weights, source, target, device, half = Path(sys.argv[1]), *sys.argv[2:6]
check_student_metadata(weights)
student, channels = load_student(weights)
built = time.perf_counter()
spent = {"network": 0.0, "writing": 0.0}
def timed(name, function):
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - began
    return wrapper
upscale.upscale_tensor = timed("network", upscale.upscale_tensor)
upscale.save_image = timed("writing", upscale.save_image)
upscale.upscale_files(student, channels, Path(source), Path(target), select_device(device), None, tile=1024,
                      overwrite=True, precision="fp16" if half == "1" else "fp32")
done = time.perf_counter()
rest = done - built - spent["network"] - spent["writing"]
print(f"phases: import {imported - start:.2f} s, build {built - imported:.2f} s, network {spent['network']:.2f} s, "
      f"writing {spent['writing']:.2f} s, reading and colour {rest:.2f} s")
"""


def prepare(folder: Path, size: int) -> tuple[Path, Path]:
    """Paper-size RRDB weights and the cropped photos in ``folder``."""
    import torch

    from srdistill.compat.basicsr import rrdbnet_class

    torch.manual_seed(0)
    weights = folder / "rrdb_paper.pth"
    net = rrdbnet_class()(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32, scale=4)
    torch.save({"params_ema": net.state_dict()}, weights)
    photos = runpy.run_path(str(ROOT / "scripts" / "skimage_photos.py"))
    full, crops = folder / "full", folder / "photos"
    photos["write"](full, PHOTOS)
    crops.mkdir()
    from PIL import Image

    for name in PHOTOS:
        with Image.open(full / f"{name}.png") as image:
            left, top = (image.width - size) // 2, (image.height - size) // 2
            image.crop((left, top, left + size, top + size)).save(crops / f"{name}.png")
    return weights, crops


def commands(weights: Path, photos: Path, out: Path, device: str, low: bool) -> dict[str, list[str]]:
    """Each tool's whole-process command; ``low``: fp16 for both."""
    ours = [sys.executable, "-m", "srdistill", "upscale", str(weights), str(photos), str(out / "srdistill"),
            "--device", device, "--tile", "1024", "--overwrite", "--precision", "fp16" if low else "fp32"]  # fmt: skip
    peer = [sys.executable, "-c", PEER, str(weights), str(photos), str(out / "realesrgan"), device, "1" if low else "0"]
    return {"srdistill": ours, "realesrgan": peer}


def run(command: list[str]) -> tuple[float, float]:
    """Wall seconds of ``command``, and the processor seconds it used (user + system, all threads):
    on a machine shared with other work the second moves less with the others' load."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{command[2]} failed:\n{proc.stderr[-2000:]}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def same_outputs(out: Path) -> tuple[bool, float]:
    """Whether the two tools wrote identical pixels, and the PSNR between them (dB)."""
    from PIL import Image

    errors = []
    for path in sorted((out / "srdistill").glob("*.png")):
        ours = np.asarray(Image.open(path), dtype=np.float64)
        theirs = np.asarray(Image.open(out / "realesrgan" / path.name), dtype=np.float64)
        errors.append(np.mean((ours - theirs) ** 2))
    mse = float(np.mean(errors))
    return mse == 0, 10 * np.log10(255**2 / mse) if mse > 0 else float("inf")


def compare(weights: Path, photos: Path, out: Path, device: str, rounds: int, low: bool) -> dict[str, Any]:
    cmds = commands(weights, photos, out, device, low)
    seconds: dict[str, list[float]] = {name: [] for name in cmds}
    cpu: dict[str, list[float]] = {name: [] for name in cmds}
    for r in range(rounds):
        order = list(cmds) if r % 2 == 0 else list(reversed(cmds))
        for name in order:
            wall, used = run(cmds[name])
            seconds[name].append(wall)
            cpu[name].append(used)
        print(f"  round {r + 1}: " + ", ".join(f"{n} {seconds[n][-1]:.2f} s ({cpu[n][-1]:.1f} CPU s)" for n in cmds),
              flush=True)  # fmt: skip
    identical, psnr = same_outputs(out)

    def ratio(values: dict[str, list[float]]) -> float:
        return statistics.median(a / b for a, b in zip(values["srdistill"], values["realesrgan"], strict=True))

    return {"seconds": {n: statistics.median(v) for n, v in seconds.items()}, "all_seconds": seconds,
            "cpu_seconds": {n: statistics.median(v) for n, v in cpu.items()}, "all_cpu_seconds": cpu,
            "srdistill_over_realesrgan": ratio(seconds), "cpu_srdistill_over_realesrgan": ratio(cpu),
            "identical": identical, "psnr_db": psnr}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (both tools use the same).")
    parser.add_argument("--size", type=int, default=192, help="Side of the centre crops (input pixels).")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--phases", action="store_true", help="Time each tool's steps, one fp32 run each.")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results: dict[str, Any] = {"device": args.device, "size": args.size, "photos": list(PHOTOS)}
    with tempfile.TemporaryDirectory() as tmp:
        weights, photos = prepare(Path(tmp), args.size)
        if args.phases:
            for name, script in (("srdistill", OURS), ("realesrgan", PEER)):
                command = [sys.executable, "-c", script, str(weights), str(photos), f"{tmp}/{name}", args.device, "0"]
                proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
                if proc.returncode != 0:
                    raise SystemExit(f"{name} failed:\n{proc.stderr[-2000:]}")
                results[f"{name}_phases"] = proc.stdout.strip().splitlines()[-1]
                print(f"{name}: {results[f'{name}_phases']}")
        else:
            pairs = {"fp32": False} | ({"fp16": True} if args.device.startswith("cuda") else {})
            for name, low in pairs.items():
                print(f"{name}: {len(PHOTOS)} crops of {args.size}² on {args.device}, {args.rounds} paired rounds")
                r = compare(weights, photos, Path(tmp) / name, args.device, args.rounds, low)
                results[name] = r
                same = "bit-identical" if r["identical"] else f"different (PSNR {r['psnr_db']:.1f} dB)"
                print(f"{name}: srdistill {r['seconds']['srdistill']:.2f} s, Real-ESRGAN "
                      f"{r['seconds']['realesrgan']:.2f} s (whole process, median); srdistill ÷ Real-ESRGAN "
                      f"{r['srdistill_over_realesrgan']:.3f} (median of per-round ratios; processor time "
                      f"{r['cpu_srdistill_over_realesrgan']:.3f}); outputs {same}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
