#!/usr/bin/env bash
# make int8-gate: the accuracy gates of --precision int8 on the default model (docs/INT8.md), over
# the three evaluation tasks built from Debian packages (scripts/make-*-task.sh; built if missing):
#   - linear-probe accuracy (m2d-train eval, 3 seeds): int8 within 0.5 points of fp32 per task;
#   - clip cosine of every clip >= 0.999, and frame cosine >= 0.995 on 40 clips per task.
# BIN=DIR uses binaries already built there; MODEL=DIR another model.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-}
MODEL=${MODEL:-models/m2d-small-debian}
TASKS=${TASKS_DIR:-${M2D_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/m2d-serve}/tasks}
if [ -z "$BIN" ]; then swift build -c release >/dev/null; BIN=.build/release; fi
declare -A csv=([keyword]=keywords/keywords.csv [language]=languages/languages.csv \
  [instrument]=instruments/instruments.csv)
for t in keyword language instrument; do
  [ -f "$TASKS/${csv[$t]}" ] || scripts/make-$t-task.sh "$TASKS/$(dirname "${csv[$t]}")" >&2
done
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
files=()
for t in keyword language instrument; do files+=("$TASKS/${csv[$t]}"); done

echo "== linear probes (m2d-train eval, test split, seeds 42,43,44)"
for p in fp32 int8; do
  "$BIN/m2d-train" eval --model "$MODEL" --precision "$p" --cache "$work/cache" "${files[@]}" | tee "$work/eval-$p.txt"
done

status=0
/usr/bin/python3 - "$work/eval-fp32.txt" "$work/eval-int8.txt" <<'PY' || status=1
import re, sys
def means(path):
    out = {}
    for line in open(path):
        m = re.match(r"\|[^|]*\| (\w+) \| \w+ \| ([0-9.]+) \+- ", line)
        if m: out[m.group(1)] = float(m.group(2))
    return out
fp32, int8 = means(sys.argv[1]), means(sys.argv[2])
ok = bool(fp32) and fp32.keys() == int8.keys()
print("\n| task | fp32 | int8 | difference (gate: within 0.5 points) |\n|---|---|---|---|")
for task in fp32:
    d = int8.get(task, float("nan")) - fp32[task]
    ok = ok and abs(d) <= 0.5
    print(f"| {task} | {fp32[task]:.2f} | {int8.get(task, float('nan')):.2f} | {d:+.2f} {'PASS' if abs(d) <= 0.5 else 'FAIL'} |")
sys.exit(0 if ok else 1)
PY
echo
echo "== embeddings: int8 against fp32"
for t in keyword language instrument; do
  dir="$TASKS/$(dirname "${csv[$t]}")/wav"
  for p in fp32 int8; do
    "$BIN/m2d-embed" --model "$MODEL" --precision "$p" --format npy --out "$work/$t-$p.npy" "$dir" 2>/dev/null
    mapfile -t sample < <(find "$dir" -name '*.wav' | sort | awk 'NR % 20 == 1' | head -40)
    "$BIN/m2d-embed" --model "$MODEL" --precision "$p" --frames "${sample[@]}" > "$work/$t-$p.jsonl" 2>/dev/null
  done
  /usr/bin/python3 - "$work/$t" "$t" <<'PY' || status=1
import json, math, struct, sys
base, task = sys.argv[1], sys.argv[2]
def npy(path):
    data = open(path, "rb").read()
    n = struct.unpack("<H", data[8:10])[0]
    header = eval(data[10:10 + n].decode())
    rows, dim = header["shape"]
    values = struct.unpack(f"<{rows * dim}f", data[10 + n:])
    return [values[i * dim:(i + 1) * dim] for i in range(rows)]
def cos(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
a, b = npy(base + "-fp32.npy"), npy(base + "-int8.npy")
clip = min(cos(x, y) for x, y in zip(a, b))
frame = 1.0
for la, lb in zip(open(base + "-fp32.jsonl"), open(base + "-int8.jsonl")):
    fa, fb = json.loads(la)["frames"], json.loads(lb)["frames"]
    frame = min([frame] + [cos(x, y) for x, y in zip(fa, fb)])
ok = clip >= 0.999 and frame >= 0.995
print(f"| {task} | {len(a)} clips | worst clip cosine {clip:.5f} (>= 0.999) | worst frame cosine {frame:.5f} "
      f"(>= 0.995, 40 clips) | {'PASS' if ok else 'FAIL'} |")
sys.exit(0 if ok else 1)
PY
done
exit $status
