#!/usr/bin/env bash
# The Fashion-MNIST quickstart on a fresh machine: install, get the data, then
#   1. fit the teacher, 2. train an RRDB student with a pixel loss (the "ESRGAN" baseline),
#   3. fine-tune it through the frozen teacher (the DarioNet step), 4. the same with a pixel term
#   beside the logit MSE, 5. compare everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq dataset-fashion-mnist
fi

run() {
  echo "+ srdistill $*"
  local start=$SECONDS
  .venv/bin/srdistill "$@"
  echo "  ($((SECONDS - start)) s)"
}
total=$SECONDS
run train recipes/fmnist_teacher.yaml
run train recipes/fmnist_pixel.yaml
run train recipes/fmnist_darionet.yaml
run train recipes/fmnist_darionet_pixel.yaml
run compare recipes/fmnist_darionet.yaml --json runs/fmnist_darionet/compare.json
echo "quickstart: $((SECONDS - total)) s after install"
