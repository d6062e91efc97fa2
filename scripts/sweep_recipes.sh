#!/bin/bash
# Task 2's recipe sweep: the lab's recipe and seven variants of its free choices (seed,
# momentum, weight decay, init, augmentation), 30 epochs each, all in parallel on one CUDA GPU
# (about 20 s per epoch each with eight sharing an H100). Epochs, batch size, learning rate and
# schedule stay the report's. Results: docs/RESULTS.md, results/sweep_cuda/.
#
#   bash scripts/sweep_recipes.sh [OUT_DIR]      # default runs/sweep; rerun to resume
set -u
R=${1:-runs/sweep}
mkdir -p "$R"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONUNBUFFERED=1
declare -A V=(
  [base]=""
  [seed1]="--seed 1"
  [nesterov]="--nesterov"
  [wd1e-3]="--weight-decay 1e-3"
  [zir]="--zero-init-residual"
  [erase]="--erase-prob 0.5"
  [wd1e-3_erase]="--weight-decay 1e-3 --erase-prob 0.5"
  [all]="--nesterov --weight-decay 1e-3 --zero-init-residual --erase-prob 0.5"
)
for k in "${!V[@]}"; do
  # shellcheck disable=SC2086
  python -m lab01_utils.train --task torch --profile full --device cuda --threads 1 --quiet \
    --resume --out "$R/$k" ${V[$k]} >"$R/$k.err" 2>&1 &
done
wait
for k in "${!V[@]}"; do
  printf '%-14s %s\n' "$k" "$(tail -n 1 "$R/$k/task2_torch/train.log")"
done
