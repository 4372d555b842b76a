#!/usr/bin/env bash
# Build .gpu/ for a GPU machine that has CUDA PyTorch but no package index: an offline wheelhouse of
# what a stock PyTorch image lacks for srdistill and its GPU checks, srdistill and its example
# plugin as wheels, and .gpu/run.sh. Run on a machine that reaches the index (after scripts/setup.sh):
#
#     bash scripts/gpu/prepare.sh          # PYVER=3.12 by default: the GPU image's Python
#
# then copy the project folder, .gpu/ included, to the GPU machine and run `bash .gpu/run.sh` there.
# Versions are those installed in .venv (the ones the test suite passed with), so the wheels fit
# each other (pydantic needs its exact pydantic-core); packages .venv lacks are taken at their newest.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYVER=${PYVER:-3.12}
py=${PYTHON:-.venv/bin/python}
[ -x "$py" ] || py=python3
rm -rf .gpu && mkdir -p .gpu/wheels

# binary wheels (any platform tag a manylinux x86-64 image takes) for the GPU image's Python:
# pydantic, kornia, spandrel, the shards reader, pytest, basicsr's imports a PyTorch image may lack, and
# Real-ESRGAN (the upscale benchmark's peer; pure Python, installed without its dependencies)
packages=(
  pydantic pydantic-core annotated-types typing-inspection typing-extensions
  kornia kornia-rs spandrel addict yapf platformdirs lmdb future opencv-python-headless scipy
  webdataset braceexpand pytest pluggy iniconfig pygments packaging realesrgan
)
mapfile -t pinned < <("$py" - "${packages[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

same = {"opencv-python-headless": "opencv-python"}  # the build without GUI libraries, same release
for name in sys.argv[1:]:
    for installed in (name, same.get(name, name)):
        try:
            print(f"{name}=={version(installed)}")
            break
        except PackageNotFoundError:
            pass
    else:
        print(name)
PY
)
"$py" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version "$PYVER" --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux_2_28_x86_64 --platform any -d .gpu/wheels "${pinned[@]}"
# basicsr is an sdist (pure Python): built here; srdistill and the plugins as wheels
"$py" -m pip wheel -q --disable-pip-version-check --no-deps -w .gpu/wheels basicsr==1.4.2 . plugins/*/
cp scripts/gpu/run.sh .gpu/run.sh && chmod +x .gpu/run.sh
ls .gpu/wheels | sed 's/^/  /'
du -sh .gpu | sed 's/^/size: /'
echo "next: copy this folder (with .gpu/) to the GPU machine and run: bash .gpu/run.sh [OUT_DIR]"
