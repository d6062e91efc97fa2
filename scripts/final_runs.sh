#!/bin/bash
# The final runs of a recipe chosen on the validation split (scripts/results_tables.py
# ablation): both tasks, all 60,000 training images, 30 epochs, measured once on the test set
# (plain and with the 10-view TTA), then committed as the new results/task1_numpy/ and
# results/task2_torch/; the runs they replace move to results/<OLD>/ first.
#
#   bash scripts/final_runs.sh RECIPE OLD [RUN_DIR]     # rerun to resume; RECIPE: config.RECIPES
#
# SIDE_BY_SIDE=1 trains the two tasks at once on one core each instead of one after the other.
# RUN_DIR defaults to runs/final_<RECIPE>. PROFILE=quick tries it in minutes on the embedded
# sample; RESULTS=DIR writes there instead of results/ (both for trying it out). A quick run is
# a few dozen steps: with --ema-decay 0.999 the average has not moved off the first steps'
# weights, so the EMA model (what weights.npz keeps) measures near chance there.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: bash scripts/final_runs.sh RECIPE OLD [RUN_DIR]" >&2; exit 2; }
RECIPE=$1 OLD=$2 R=${3:-runs/final_$1}
PY=${PY:-.venv/bin/python}
PROFILE=${PROFILE:-full}
RESULTS=${RESULTS:-results}
export PYTHONUNBUFFERED=1
case "$OLD" in
  task1_numpy | task2_torch | improve_val | "" | *[!A-Za-z0-9_.-]*)
    echo "error: OLD ($OLD) must be a new folder name under $RESULTS/ for the replaced runs" >&2
    exit 2 ;;
esac
if [ -e "$RESULTS/$OLD" ]; then
  echo "error: $RESULTS/$OLD exists already; choose another name for the replaced runs" >&2
  exit 2
fi
TRAIN=($PY -m lab01_utils.train --profile "$PROFILE" --recipe "$RECIPE" --tta --resume auto
  --out "$R" --quiet)
if [ "${SIDE_BY_SIDE:-0}" = 1 ]; then
  # The two tasks at once, one core each (Task 1 on one process and one BLAS thread, Task 2 on
  # one torch thread): on a 2-core machine more epochs an hour than one task after the other.
  OPENBLAS_NUM_THREADS=1 LAB01_NUM_THREADS=1 "${TRAIN[@]}" --task numpy --processes 1 &
  t1=$!
  "${TRAIN[@]}" --task torch --threads 1 &
  t2=$!
  s1=0 s2=0
  wait $t1 || s1=$?
  wait $t2 || s2=$?
  if [ $s1 != 0 ] || [ $s2 != 0 ]; then
    echo "error: training stopped (Task 1: exit $s1, Task 2: exit $s2; see above);" \
      "an interrupted run resumes when this is rerun" >&2
    exit 1
  fi
else
  "${TRAIN[@]}" --task both
fi
for t in task1_numpy task2_torch; do
  if [ ! -f "$R/$t/weights.npz" ]; then
    echo "error: $R/$t has no weights.npz (not finished)" >&2
    exit 1
  fi
done
mkdir -p "$RESULTS/$OLD"
for t in task1_numpy task2_torch; do
  if [ -d "$RESULTS/$t" ]; then mv "$RESULTS/$t" "$RESULTS/$OLD/$t"; fi
  mkdir -p "$RESULTS/$t"
  cp "$R/$t/"{train.log,history.json,config.json,weights.npz} "$RESULTS/$t/"
  if [ -f "$R/$t/weights_raw.npz" ]; then cp "$R/$t/weights_raw.npz" "$RESULTS/$t/"; fi
done
for f in comparison.md comparison.png; do
  if [ -f "$RESULTS/$f" ]; then mv "$RESULTS/$f" "$RESULTS/$OLD/$f"; fi
done
$PY -m lab01_utils.compare "$RESULTS"
# Measured once on the test set, from the committed weights, in the network of each task.
LIMIT=$([ "$PROFILE" = quick ] && echo "--limit 500" || true)  # quick: a taste, not a figure
for t in task1_numpy task2_torch; do
  case $t in task1_numpy) model=numpy ;; *) model=torch ;; esac
  # shellcheck disable=SC2086
  $PY -m lab01_utils.tta "$RESULTS/$t" --model "$model" $LIMIT
done
echo "replaced runs: $RESULTS/$OLD/; new: $RESULTS/task1_numpy, $RESULTS/task2_torch"
