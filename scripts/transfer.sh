#!/usr/bin/env bash
# Does the gain transfer? Fit three teachers of different families on Fashion-MNIST, distil the
# pixel-trained student against the ResNet alone and against a ResNet+ConvNeXt ensemble (and a
# logit+pixel variant at two pixel weights), then judge every student with all three teachers.
# Prints each step's wall time and, at the end, the judges matrix.
#
#   bash scripts/transfer.sh            # from the repository root, after scripts/setup.sh
#
# SRDISTILL overrides the command (default .venv/bin/srdistill).
set -euo pipefail
cd "$(dirname "$0")/.."
SRDISTILL=${SRDISTILL:-.venv/bin/srdistill}
declare -a TIMES=()

step() {  # step LABEL COMMAND...
    local label=$1 start
    shift
    start=$(date +%s)
    echo "== $label: $*"
    "$@"
    TIMES+=("$label $(($(date +%s) - start)) s")
}

total_start=$(date +%s)
for family in resnet convnext vit; do
    step "teacher $family" $SRDISTILL train "recipes/fmnist_transfer_$family.yaml"
done
step "pixel student" $SRDISTILL train recipes/fmnist_transfer_pixel.yaml
step "(a) distil vs ResNet" $SRDISTILL train recipes/fmnist_transfer_distil_resnet.yaml
step "(b) distil vs ResNet+ConvNeXt" $SRDISTILL train recipes/fmnist_transfer_distil_ensemble.yaml
step "logit + 4·pixel" $SRDISTILL train recipes/fmnist_transfer_pixel_logit.yaml
step "logit + 1·pixel" $SRDISTILL train recipes/fmnist_transfer_pixel_logit.yaml \
    --set name=fmnist_transfer_pixel_logit_1 --set losses.1.weight=1.0
step "compare with 3 judges" $SRDISTILL compare recipes/fmnist_transfer_compare.yaml \
    --json runs/fmnist_transfer_compare/compare.json

echo
echo "wall time of each step:"
printf '  %s\n' "${TIMES[@]}"
echo "  total $(($(date +%s) - total_start)) s"
