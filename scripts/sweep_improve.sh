#!/bin/bash
# How to improve the accuracy (issue: 95% with the report's network): the fixed variants, each
# technique alone and all together, on Task 2, judged on a validation split held out of the
# training set (the last 5,000 images; never the test set), 30 epochs, seeds 0 and 1.
#
#   bash scripts/sweep_improve.sh [OUT_DIR] [DEVICE] [VARIANT...]    # rerun to resume
#
# Runs one after another (DEVICE=cuda: all at once; STREAMS=2 on the CPU: one stream per seed,
# side by side, THREADS torch threads each), resumes an interrupted run from its checkpoint,
# skips finished ones, and copies each finished run's train.log, history.json and config.json
# to results/improve_val/<variant>_s<seed>/ (no weights: these are not final runs); COMMIT=1
# also commits those three files (only them) as each run finishes.
#
# On the 2-core CPU machine one 30-epoch run takes about 53 minutes with THREADS=2, and two
# streams with THREADS=1 finished two runs in about 94 minutes (docs/RESULTS.md).
set -u
R=${1:-runs/improve}
DEVICE=${2:-cpu}
shift $(( $# > 2 ? 2 : $# ))
export PYTHONUNBUFFERED=1
PY=${PY:-.venv/bin/python}
ORDER=(all lab smooth cosine ema)
[ $# -gt 0 ] && ORDER=("$@")
# The variants, fixed before any of them ran, live in config.IMPROVE_VARIANTS; every run also
# has config.IMPROVE_SWEEP (Task 2, --val-split 5000, --tta). Their flags, checked up front:
declare -A V=()
for k in "${ORDER[@]}"; do
  V[$k]=$($PY -c 'import sys; from lab01_utils.ablation import SweepError, variant_flags
try: print(*variant_flags(sys.argv[1]))
except SweepError as e: sys.exit(f"error: {e}")' "$k") || exit 2
done
mkdir -p "$R" results/improve_val
THREADS=${THREADS:-2}
STREAMS=${STREAMS:-1}
COMMIT=${COMMIT:-0}
run() {  # variant seed
  local k=$1 s=$2 out="$R/$1_s$2"
  if [ -f "$out/task2_torch/weights.npz" ]; then echo "done: $k seed $s"; return 0; fi
  # shellcheck disable=SC2086
  $PY -m lab01_utils.train --profile full --device "$DEVICE" --threads "$THREADS" \
    --seed "$s" --quiet --resume auto --out "$out" ${V[$k]} \
    >"$out.err" 2>&1 || { echo "failed: $k seed $s (see $out.err)"; return 1; }
  mkdir -p "results/improve_val/$1_s$2"
  cp "$out/task2_torch/"{train.log,history.json,config.json} "results/improve_val/$1_s$2/"
  echo "finished: $k seed $s: $(tail -n 1 "$out/task2_torch/train.log")"
  if [ "$COMMIT" = 1 ]; then
    git add "results/improve_val/$1_s$2" &&
      git commit -q -m "Sweep run $1 seed $2 (validation split): log, history, config" \
        -- "results/improve_val/$1_s$2" || echo "not committed: results/improve_val/$1_s$2"
  fi
}
stream() {  # seed: the variants in order
  for k in "${ORDER[@]}"; do
    if [ "$DEVICE" = cuda ]; then run "$k" "$1" & else run "$k" "$1"; fi
  done
  wait
}
for s in 0 1; do
  if [ "$DEVICE" = cuda ] || [ "$STREAMS" -gt 1 ]; then stream "$s" & else stream "$s"; fi
done
wait
