#!/usr/bin/env bash
# make bench-peers: our encoder beside the CPU runtimes a user would pick instead, in one run on this
# machine. The official ViT-Base M2D encoder with random weights (tools/peers/bench_peers.py prepare:
# the same weights for everyone, exported to ONNX and quantized by onnxruntime's quantize_dynamic),
# 80x608 chunks, batch 1 and 8, THREADS threads (default 2). Each engine runs in its own process, so
# its peak RSS is its own; OPENBLAS_CORETYPE is unset for the peers' commands only. Columns: ms (best
# of REPEATS), the ratio of the best peer of the same precision tier to this row (> 1: faster than
# it), the minimum per-token cosine against PyTorch fp32, peak RSS, the fraction of this machine's
# measured peak (tools/peers/peak.c; 33.86 GFLOP per chunk) and the kernel that ran.
#   scripts/bench-peers.sh     (BIN=DIR: binaries built there; PEERS_DIR: where the model and ONNX go)
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}; REPEATS=${REPEATS:-5}
PY=$(scripts/peers-venv.sh | tail -1)
BIN=${BIN:-}
if [ -z "$BIN" ]; then swift build -c release --product m2d-bench >/dev/null; BIN=.build/release; fi
DIR=${PEERS_DIR:-$HOME/.cache/m2d/peers}
if [ ! -f "$DIR/encoder.int8.onnx" ]; then
  echo "preparing $DIR (weights, chunks, PyTorch reference, ONNX fp32 and int8)" >&2
  env -u OPENBLAS_CORETYPE "$PY" tools/peers/bench_peers.py prepare "$DIR" >/dev/null 2>&1
fi
cc -O2 -pthread tools/peers/peak.c -o "$DIR/peak"
peak=$("$DIR/peak" "$THREADS")
rows="$DIR/rows.jsonl"; : > "$rows"
export THREADS REPEATS
for p in fp32 bf16 int8; do
  if out=$("$BIN/m2d-bench" peer --model "$DIR/model" --input "$DIR/chunks.npy" --output "$DIR/out-ours-$p.npy" \
      --precision "$p" --repeats "$REPEATS" --threads "$THREADS" 2>"$DIR/ours-$p.err"); then
    cosine=$(env -u OPENBLAS_CORETYPE "$PY" tools/peers/bench_peers.py cosine "$DIR" "$DIR/out-ours-$p.npy")
    echo "$out" | "$PY" -c "import json,sys; r=json.load(sys.stdin); r.update(engine='ours-$p', cosine=$cosine, \
kernel=r.pop('engine')); print(json.dumps(r))" >> "$rows"
  else
    reason=$(head -1 "$DIR/ours-$p.err" | sed 's/^Error: //')
    echo "{\"engine\": \"ours-$p\", \"error\": $("$PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$reason")}" \
      >> "$rows"
  fi
done
for e in torch-fp32 torch-bf16 ort-fp32 ort-int8 ov-fp32 ov-bf16; do
  env -u OPENBLAS_CORETYPE "$PY" tools/peers/bench_peers.py run "$e" "$DIR" 2>/dev/null | grep '^{' >> "$rows" ||
    echo "{\"engine\": \"$e\", \"error\": \"failed\"}" >> "$rows"
done
"$PY" - "$rows" "$peak" "${OPENBLAS_CORETYPE:-(unset)}" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
peak = dict(l.split() for l in sys.argv[2].splitlines())
fp32_peak, int8_peak = float(peak["fp32_gflops"]), float(peak["int8_gops"])
GFLOP = 33.86
tier = lambda e: e.split("-")[1]
names = {"ours-fp32": "ours, oneDNN fp32", "ours-bf16": "ours, oneDNN bf16", "ours-int8": "ours, oneDNN int8",
         "torch-fp32": "PyTorch fp32", "torch-bf16": "PyTorch bf16 autocast", "ort-fp32": "ONNX Runtime fp32",
         "ort-int8": "ONNX Runtime int8 (quantize_dynamic, QInt8)", "ov-fp32": "OpenVINO fp32",
         "ov-bf16": "OpenVINO bf16 (INFERENCE_PRECISION_HINT)"}
best = {}
for r in rows:
    if "error" not in r and not r["engine"].startswith("ours"):
        t = tier(r["engine"])
        b = best.setdefault(t, [float("inf"), float("inf")])
        b[0], b[1] = min(b[0], r["b1_ms"]), min(b[1], r["b8_ms"])
import os
print(f"ViT-Base M2D encoder, 80x608 chunks, {os.environ['THREADS']} threads, best of {os.environ['REPEATS']}; "
      f"measured peak: fp32 {fp32_peak:.0f} GFLOP/s, int8 (AVX2 vpmaddubsw) {int8_peak:.0f} GOP/s; "
      f"OPENBLAS_CORETYPE for ours: {sys.argv[3]}, unset for the peers")
print()
print("| engine | batch 1 ms | vs best peer | batch 8 ms | vs best peer | cosine | peak RSS MiB | of peak (b8) | kernel |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    name = names.get(r["engine"], r["engine"])
    if "error" in r:
        print(f"| {name} | unavailable: {r['error'][:110]} | | | | | | | |")
        continue
    b = best.get(tier(r["engine"]))
    v1 = f"{b[0] / r['b1_ms']:.2f}x" if b else "-"
    v8 = f"{b[1] / r['b8_ms']:.2f}x" if b else "-"
    rate = 8 * GFLOP / (r["b8_ms"] / 1000)
    frac = rate / (int8_peak if tier(r["engine"]) == "int8" else fp32_peak)
    print(f"| {name} | {r['b1_ms']:.1f} | {v1} | {r['b8_ms']:.0f} | {v8} | {r['cosine']:.6f} | {r['rss_mib']:.0f} "
          f"| {100 * frac:.0f}% | {r['kernel']} |")
PY
