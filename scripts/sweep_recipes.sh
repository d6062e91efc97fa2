#!/bin/bash
# Task 2's recipe sweeps: eight variants of the recipe's free choices (seed, momentum, weight
# decay, init, augmentation), 30 epochs each, all in parallel on one CUDA GPU (about 21 s per
# epoch each with eight sharing an H100). Epochs, batch size, learning rate and schedule stay
# the report's. Results: docs/RESULTS.md, results/sweep_cuda/.
#
#   bash scripts/sweep_recipes.sh [OUT_DIR] [SET]     # rerun to resume
#
# SET: `regularisers` (the first sweep: the report's recipe plus extra regularisers) or
# `less` (the second: weaker weight decay and shifts, which made the lab's recipe).
set -u
R=${1:-runs/sweep}
SET=${2:-less}
mkdir -p "$R"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONUNBUFFERED=1
# Each variant starts from the report's recipe (--recipe report) and changes what it names.
case "$SET" in
  regularisers)
    declare -A V=(
      [base]=""
      [seed1]="--seed 1"
      [nesterov]="--nesterov"
      [wd1e-3]="--weight-decay 1e-3"
      [zir]="--zero-init-residual"
      [erase]="--erase-prob 0.5"
      [wd1e-3_erase]="--weight-decay 1e-3 --erase-prob 0.5"
      [all]="--nesterov --weight-decay 1e-3 --zero-init-residual --erase-prob 0.5"
    ) ;;
  less)
    declare -A V=(
      [wd1e-4]="--weight-decay 1e-4"
      [wd1e-4_seed1]="--weight-decay 1e-4 --seed 1"
      [wd5e-5]="--weight-decay 5e-5"
      [wd0]="--weight-decay 0"
      [wd1e-4_shift1]="--weight-decay 1e-4 --max-shift 1"
      [wd2e-4_shift1]="--weight-decay 2e-4 --max-shift 1"
      [wd1e-4_m0.95]="--weight-decay 1e-4 --momentum 0.95"
      [wd1e-4_noflip]="--weight-decay 1e-4 --flip-prob 0"
    ) ;;
  *) echo "unknown set: $SET (regularisers or less)" >&2; exit 2 ;;
esac
for k in "${!V[@]}"; do
  # shellcheck disable=SC2086
  python -m lab01_utils.train --task torch --profile full --recipe report --device cuda \
    --threads 1 --quiet --resume auto --out "$R/$k" ${V[$k]} >"$R/$k.err" 2>&1 &
done
wait
for k in "${!V[@]}"; do
  printf '%-14s %s\n' "$k" "$(tail -n 1 "$R/$k/task2_torch/train.log")"
done
