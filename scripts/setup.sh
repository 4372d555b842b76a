#!/usr/bin/env bash
# Create .venv (if missing) and install srdistill with its test tools, and the example plugin
# in plugins/ (the tests train with it), into it. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" -e plugins/srdistill-torchvision
