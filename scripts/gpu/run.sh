#!/usr/bin/env bash
# The GPU check in one command, on the GPU machine, in the project root, without any package index:
#
#     bash .gpu/run.sh [OUT_DIR]       # written by scripts/gpu/prepare.sh; default OUT_DIR .gpu/out
#
# Installs the wheelhouse .gpu/wheels (only what the image lacks, plus srdistill itself), then runs
# `pytest -m cuda`, the paper recipe for a few dozen steps on a generated ImageNet-style tree with
# generated weights (bf16, channels-last), the JPEG decode rate per core, and
# benchmarks/train_speed.py at paper sizes (bf16, channels-last, and the compile variant).
# benchmarks/upscale_speed.py on real colour photos. Everything printed also goes to
# OUT_DIR/gpu-check.log. GPU_STEPS, GPU_ROUNDS, GPU_BATCH, GPU_WORKERS tune the length, and each
# step stops after its own limit (GPU_LIMIT_TESTS, _TRAIN, _BENCH, _UPSCALE, _COMPILE seconds), so a
# slow step never costs the ones after it; GPU_WORK is the scratch folder (default OUT_DIR/work).
# GPU_ONLY_INSTALL=1 stops after the install, GPU_SKIP_BENCH=1 before the benchmarks;
# GPU_FORCE_WHEELS=1 installs every wheel even where the image has the package.
set -uo pipefail
OUT=${1:-${OUT:-.gpu/out}}; mkdir -p "$OUT"; LOG=$OUT/gpu-check.log
exec > >(tee -a "$LOG") 2>&1
STEPS=${GPU_STEPS:-40}; ROUNDS=${GPU_ROUNDS:-1}; BATCH=${GPU_BATCH:-16}; WORKERS=${GPU_WORKERS:-8}
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
step() { echo; echo "=== $* ($(date +%T))"; }

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
$py -c "import torch,torchvision,sys;print('python',sys.version.split()[0],'torch',torch.__version__,'tv',torchvision.__version__,'cuda',torch.cuda.is_available())"
nproc

step "install (no index)"
# a wheel is installed only where the image lacks its package (the image's own torch stack stays
# as it is); srdistill and its plugin always
mapfile -t wheels < <($py - .gpu/wheels "${GPU_FORCE_WHEELS:-}" <<'PY'
import importlib.util, sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

folder, force = Path(sys.argv[1]), bool(sys.argv[2])
probe = {"opencv-python-headless": "cv2"}  # any OpenCV build provides cv2
for wheel in sorted(folder.glob("*.whl")):
    dist = wheel.name.split("-")[0].replace("_", "-").lower()
    if not force and not dist.startswith("srdistill"):
        if dist in probe:
            if importlib.util.find_spec(probe[dist]) is not None:
                continue
        else:
            try:
                version(dist)
                continue
            except PackageNotFoundError:
                pass
    print(wheel)
PY
)
echo "installing ${#wheels[@]} wheels: $(for w in "${wheels[@]}"; do basename "$w" | cut -d- -f1; done | tr '\n' ' ')"
$py -m pip install -q --no-index --no-deps --disable-pip-version-check "${wheels[@]}" 2>&1 | tail -3
$py - <<'PY' || { echo "import failed: rerun with GPU_FORCE_WHEELS=1"; exit 1; }
import kornia, pydantic, pytest, timm, webdataset
import srdistill
from srdistill.compat.basicsr import rrdbnet_class

rrdbnet_class()
assert int(pydantic.VERSION.split(".")[0]) >= 2, f"pydantic {pydantic.VERSION} is too old"
print("imports ok: srdistill", srdistill.__version__, "pydantic", pydantic.VERSION, "kornia", kornia.__version__,
      "timm", timm.__version__, "pytest", pytest.__version__)
PY
SRD="$py -m srdistill"
[ -n "${GPU_ONLY_INSTALL:-}" ] && { echo "install checked; stopping (GPU_ONLY_INSTALL)"; exit 0; }

limited() { local seconds=$1; shift; timeout "$seconds" "$@"; local rc=$?
  [ $rc -eq 124 ] && echo "stopped after its limit of ${seconds}s"; return $rc; }

step "cuda tests: pytest -m cuda"
limited "${GPU_LIMIT_TESTS:-240}" $py -m pytest -q -m cuda -p no:cacheprovider tests 2>&1 | tail -20

step "paper recipe on a generated tree, bf16 + channels-last, $STEPS steps of $BATCH"
W=${GPU_WORK:-$OUT/work}; mkdir -p "$W"
$py - "$W" <<'PY'
import pathlib, sys

import numpy as np
import timm
import torch
from PIL import Image

from srdistill.compat.basicsr import rrdbnet_class

w = pathlib.Path(sys.argv[1])
rng = np.random.default_rng(0)
for split, n in (("train", 24), ("val", 8)):
    for c in range(4):
        d = w / "imagenet" / split / f"n{c:08d}"
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (300, 340, 3), dtype=np.uint8)).save(d / f"{i}.JPEG", quality=90)
torch.save(timm.create_model("resnet50", num_classes=4).state_dict(), w / "resnet50.pth")
rrdb = rrdbnet_class()(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32)
torch.save({"params_ema": rrdb.state_dict()}, w / "esrgan.pth")
PY
SECONDS=0
limited "${GPU_LIMIT_TRAIN:-180}" $SRD train recipes/darionet_imagenet.yaml --set device=cuda --set data.root="$W/imagenet" \
  --set teacher.weights="$W/resnet50.pth" --set teacher.num_classes=4 --set student.weights="$W/esrgan.pth" \
  --set train.epochs=1 --set train.max_steps_per_epoch="$STEPS" --set train.batch_size="$BATCH" \
  --set train.num_workers="$WORKERS" --set runtime.amp=bf16 --set runtime.channels_last=true \
  --set run.dir="$W/run" --overwrite 2>&1 | tail -12
echo "train wall: ${SECONDS}s"; cat "$W/run/metrics.csv" 2>/dev/null

step "JPEG decode rate per core (the loader's side of the training rate)"
$py benchmarks/decode.py --images 200 --size 500x375 2>&1 | tail -3

[ -n "${GPU_SKIP_BENCH:-}" ] && { echo "benchmarks skipped (GPU_SKIP_BENCH)"; exit 0; }
step "benchmark: paper sizes, cuda, bf16 + channels-last"
bench=(benchmarks/train_speed.py --preset paper --device cuda --set runtime.amp=bf16 --set runtime.channels_last=true
  --set train.num_workers="$WORKERS" --set compare.num_workers="$WORKERS" --rounds "$ROUNDS")
[ -n "${GPU_BENCH_STEPS:-}" ] && bench+=(--steps "$GPU_BENCH_STEPS")
limited "${GPU_LIMIT_BENCH:-300}" $py "${bench[@]}" --json "$OUT/train_speed.json" 2>&1

step "upscale: paper RRDB on colour photos, automatic and fixed tiles"
limited "${GPU_LIMIT_UPSCALE:-120}" $py benchmarks/upscale_speed.py --device cuda --tiles auto,256,64 \
  --rounds "$ROUNDS" --json "$OUT/upscale_speed.json" 2>&1

step "benchmark: the compile variant"
limited "${GPU_LIMIT_COMPILE:-300}" $py "${bench[@]}" --variants compile --json "$OUT/train_speed_compile.json" 2>&1
step "done"; ls -la "$OUT"
