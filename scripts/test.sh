#!/usr/bin/env bash
# Set up .venv and run the test suite. Extra arguments go to pytest (e.g. --runslow, -k trainer).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest -q "$@"
