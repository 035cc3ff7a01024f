#!/usr/bin/env bash
# Scores every snapshot of a pre-training run (checkpoint-step-NNNNNN.safetensors, written by
# `m2d-train pretrain --keep-every N`; step 0 is the random init) on the VALIDATION splits of the
# given tasks, so a checkpoint can be chosen without looking at any test split. Prints a markdown
# table (one row per snapshot, one column per task, the average and the gain over step 0) and
# writes it to OUT/selection.md. The test splits are scored afterwards, once, with `m2d-train eval`.
#   scripts/select-checkpoint.sh RUN_DIR OUT_DIR TASK.csv [TASK.csv ...]
# Environment: M2D_TRAIN (default .build/release/m2d-train), SEEDS (default 42,43), CACHE (embedding
# cache folder, default OUT_DIR/cache), STEPS (a space-separated subset of steps to score; step 0
# is always scored, default all).
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,10p "$0" | sed 's/^# \{0,1\}//'; exit 2; }
RUN=$1; OUT=$2; shift 2
M2D_TRAIN=${M2D_TRAIN:-.build/release/m2d-train}
SEEDS=${SEEDS:-42,43}
CACHE=${CACHE:-$OUT/cache}
[ -x "$M2D_TRAIN" ] || { echo "no m2d-train at $M2D_TRAIN: run 'swift build -c release' or set M2D_TRAIN" >&2; exit 2; }
shopt -s nullglob
snapshots=("$RUN"/checkpoint-step-*.safetensors)
[ ${#snapshots[@]} -gt 0 ] || { echo "no snapshots in $RUN: pre-train with --keep-every N" >&2; exit 2; }
mkdir -p "$OUT"
tasks=("$@")
header="| step |"; rule="|---|"
for t in "${tasks[@]}"; do header+=" $(basename "$t" .csv) |"; rule+="---|"; done
header+=" average | gain over step 0 |"; rule+="---|---|"
rows=()
base=""
for snap in "${snapshots[@]}"; do
  step=$(basename "$snap" .safetensors); step=$((10#${step#checkpoint-step-}))
  if [ -n "${STEPS:-}" ] && [[ " $STEPS " != *" $step "* ]] && [ "$step" != 0 ]; then continue; fi
  model="$OUT/step-$step"
  [ -f "$model/model.safetensors" ] || "$M2D_TRAIN" export "$snap" --out "$model" --name "step-$step" >/dev/null
  table=$("$M2D_TRAIN" eval --model "$model" --split valid --seeds "$SEEDS" --cache "$CACHE" "${tasks[@]}")
  echo "$table" > "$model/valid.md"
  # Rows: | features | task | metric | mean +- std |, then | features | average | | mean |.
  row="| $step |"
  while IFS='|' read -r _ _ task metric score _; do
    task=$(echo "$task" | xargs); metric=$(echo "$metric" | xargs); score=$(echo "$score" | xargs)
    case "$metric" in metric|---) continue ;; esac
    if [ "$task" = average ]; then avg=$score; else row+=" $score |"; fi
  done <<< "$table"
  [ -n "$base" ] || base=$avg
  row+=" $avg | $(awk -v a="$avg" -v b="$base" 'BEGIN { printf "%+.2f", a - b }') |"
  rows+=("$row")
  echo "$row" >&2
done
{ echo "$header"; echo "$rule"; printf '%s\n' "${rows[@]}"; } | tee "$OUT/selection.md"
