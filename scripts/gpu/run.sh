#!/usr/bin/env bash
# The GPU check in one command, on the GPU machine, in the project root, without any package index:
#
#     bash .gpu/run.sh [OUT_DIR]       # written by scripts/gpu/prepare.sh; default OUT_DIR .gpu/out
#
# Installs the wheelhouse .gpu/wheels (only what the image lacks, plus srdistill itself), then, each
# step under its own time limit so that a slow one never costs the ones after it:
#   tests    pytest -m cuda                                             GPU_LIMIT_TESTS   (75 s)
#   profile  benchmarks/profile_step.py, paper sizes, bf16              GPU_LIMIT_PROFILE (45 s)
#   train    benchmarks/train_speed.py, paper sizes, bf16 + channels-last: hand-written loop, srdistill's
#            trainer and evaluation, MFU, and the regional compile variant     GPU_LIMIT_TRAIN (130 s)
#   whole    the same with a whole-model compile variant (GPU_WHOLE, default compile)  GPU_LIMIT_WHOLE (100 s)
#   upscale  benchmarks/upscale_speed.py, fp32, bf16 and fp16, PSNR     GPU_LIMIT_UPSCALE (45 s)
#   peer     benchmarks/realesrgan_compare.py: fp32 pair and fp16 pair (its half=True)
#                                                                       GPU_LIMIT_PEER    (75 s)
#   basicsr  benchmarks/basicsr_train_compare.py: pixel training against BasicSR's SRModel
#                                                                       GPU_LIMIT_BASICSR (60 s)
# About 9 minutes at most after the install. Everything printed also goes to OUT_DIR/gpu-check.log,
# results to OUT_DIR/*.json. GPU_ROUNDS (1), GPU_BATCH (32), GPU_WORKERS (8), GPU_BENCH_STEPS (10)
# tune the benchmarks; GPU_STEPS=<n> also trains the paper recipe for n steps on a generated tree
# (GPU_LIMIT_RECIPE). GPU_DEVICE=cpu GPU_TINY=1 runs every step with tiny models on a CPU (a dry run
# of the script itself; add GPU_NO_INSTALL=1 where everything is installed already). GPU_ONLY_INSTALL=1
# stops after the install; GPU_FORCE_WHEELS=1 installs every wheel even where the image has the package.
set -uo pipefail
OUT=${1:-${OUT:-.gpu/out}}; mkdir -p "$OUT"; LOG=$OUT/gpu-check.log
exec > >(tee -a "$LOG") 2>&1
ROUNDS=${GPU_ROUNDS:-1}; BATCH=${GPU_BATCH:-32}; WORKERS=${GPU_WORKERS:-8}; DEV=${GPU_DEVICE:-cuda}
BENCH_STEPS=${GPU_BENCH_STEPS:-10}
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
if [ -n "${GPU_NO_INSTALL:-}" ]; then  # a dry run in an environment that has everything already
  echo "install skipped (GPU_NO_INSTALL)"
else
  echo "installing ${#wheels[@]} wheels: $(for w in "${wheels[@]}"; do basename "$w" | cut -d- -f1; done | tr '\n' ' ')"
  $py -m pip install -q --no-index --no-deps --disable-pip-version-check "${wheels[@]}" 2>&1 | tail -3
fi
$py - <<'PY' || { echo "import failed: rerun with GPU_FORCE_WHEELS=1"; exit 1; }
import kornia, pydantic, pytest, timm, webdataset
import srdistill
from srdistill.compat.basicsr import rrdbnet_class

rrdbnet_class()
import realesrgan  # the peer the upscale benchmark compares with (after the shim rrdbnet_class installs)
assert int(pydantic.VERSION.split(".")[0]) >= 2, f"pydantic {pydantic.VERSION} is too old"
print("imports ok: srdistill", srdistill.__version__, "pydantic", pydantic.VERSION, "kornia", kornia.__version__,
      "timm", timm.__version__, "pytest", pytest.__version__)
PY
SRD="$py -m srdistill"
[ -n "${GPU_ONLY_INSTALL:-}" ] && { echo "install checked; stopping (GPU_ONLY_INSTALL)"; exit 0; }

limited() { local seconds=$1; shift; timeout "$seconds" "$@"; local rc=$?
  [ $rc -eq 124 ] && echo "stopped after its limit of ${seconds}s"; return $rc; }

# paper sizes on the GPU; GPU_TINY: tiny models and batches, for a dry run of this script on a CPU
model=(); batch=$BATCH; steps=$BENCH_STEPS; crop=(); size=512; workers=$WORKERS
# ESRGAN's RRDB (64/23/32) on 128² GT crops, batch 16, against BasicSR's own training
basicsr=(--photos 16 --side 256 --crop 128 --crops 4 --batch 16 --num-feat 64 --num-block 23 --grow 32)
if [ -n "${GPU_TINY:-}" ]; then
  model=(--set student.num_feat=8 --set student.num_block=2 --set student.num_grow_ch=4 --set teacher.model=resnet18)
  batch=2; steps=1; crop=(--crop 8); size=16; workers=0
  basicsr=(--photos 8 --side 64 --crop 32 --crops 2 --batch 4 --num-feat 8 --num-block 1 --grow 4)
fi
amp=(--set runtime.amp=bf16 --set runtime.channels_last=true)

step "cuda tests: pytest -m cuda"
limited "${GPU_LIMIT_TESTS:-75}" $py -m pytest -q -m cuda -p no:cacheprovider tests 2>&1 | tail -20

step "profile: one training step by kernel family, paper sizes, bf16 + channels-last"
limited "${GPU_LIMIT_PROFILE:-45}" $py benchmarks/profile_step.py --preset paper --device "$DEV" --batch "$batch" \
  --steps 3 --warmup 2 "${amp[@]}" "${model[@]}" --json "$OUT/profile.json" 2>&1 | grep -v "^STAGE\|^USDT"

bench=(benchmarks/train_speed.py --preset paper --device "$DEV" "${amp[@]}" "${model[@]}" --set train.num_workers="$workers"
  --set compare.num_workers="$workers" --rounds "$ROUNDS" --steps "$steps" --batch "$batch")
step "train and evaluation speed, paper sizes: eager, and the regional compile variant"
limited "${GPU_LIMIT_TRAIN:-130}" $py "${bench[@]}" --variants regional --json "$OUT/train_speed.json" 2>&1

step "train speed: the whole-model compile variant (${GPU_WHOLE:-compile})"
limited "${GPU_LIMIT_WHOLE:-100}" $py "${bench[@]}" --variants "${GPU_WHOLE:-compile}" \
  --json "$OUT/train_speed_whole.json" 2>&1

step "upscale: paper RRDB on colour photos, fp32, bf16 and fp16"
limited "${GPU_LIMIT_UPSCALE:-45}" $py benchmarks/upscale_speed.py --device "$DEV" --tiles auto --precisions fp32,bf16,fp16 \
  --rounds "$ROUNDS" "${crop[@]}" --json "$OUT/upscale_speed.json" 2>&1

step "upscale against Real-ESRGAN's RealESRGANer (fp32 pair; on CUDA also both in fp16, its half=True)"
limited "${GPU_LIMIT_PEER:-75}" $py benchmarks/realesrgan_compare.py --device "$DEV" --size "$size" --rounds "$ROUNDS" \
  --json "$OUT/realesrgan_compare.json" 2>&1

step "pixel training against BasicSR's own (PairedImageDataset + SRModel), ESRGAN's RRDB"
limited "${GPU_LIMIT_BASICSR:-60}" $py benchmarks/basicsr_train_compare.py --device "$DEV" --rounds "$ROUNDS" \
  "${basicsr[@]}" --json "$OUT/basicsr_train_compare.json" 2>&1

if [ -n "${GPU_STEPS:-}" ]; then
  step "paper recipe on a generated tree, bf16 + channels-last, $GPU_STEPS steps of $batch"
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
  limited "${GPU_LIMIT_RECIPE:-120}" $SRD train recipes/darionet_imagenet.yaml --set device="$DEV" \
    --set data.root="$W/imagenet" --set teacher.weights="$W/resnet50.pth" --set teacher.num_classes=4 \
    --set student.weights="$W/esrgan.pth" --set train.epochs=1 --set train.max_steps_per_epoch="$GPU_STEPS" \
    --set train.batch_size="$batch" --set train.num_workers="$workers" "${amp[@]}" --set run.dir="$W/run" \
    --overwrite 2>&1 | tail -12
  cat "$W/run/metrics.csv" 2>/dev/null
fi
step "done"; ls -la "$OUT"
