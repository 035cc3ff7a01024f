#!/usr/bin/env bash
# make bench-peers: our encoder beside the CPU runtimes a user would pick instead, in one run on this
# machine. The official ViT-Base M2D encoder with random weights (tools/peers/bench_peers.py prepare:
# the same weights for everyone, exported to ONNX and quantized by onnxruntime's quantize_dynamic),
# 80x608 chunks, batch 1 and 8, THREADS threads (default 2), ROUNDS rounds (default 2: the engines'
# order reversed every other round, each engine's best round kept). Each engine runs in its own
# process, so its peak RSS is its own; OPENBLAS_CORETYPE is unset for the peers' commands only. Columns: ms (best
# of REPEATS), the ratio of the best peer of the same precision tier to this row (> 1: faster than
# it), the minimum per-token cosine against PyTorch fp32, peak RSS, the fraction of this machine's
# measured peak (tools/peers/peak.c; 33.86 GFLOP per chunk) and the kernel that ran; below it, the
# Linear layers' products alone on the packed GEMM (tools/peers/linear_gemm.c), which bound ours.
#
# TIER=avx2 measures the AVX2 tier on a machine that has more: ours with ONEDNN_MAX_CPU_ISA=AVX2 and
# M2D_MAX_ISA=avx2, PyTorch with ATEN_CPU_CAPABILITY=avx2 and the same oneDNN cap, OpenVINO with the oneDNN
# cap (its CPU plugin is built on oneDNN); ONNX Runtime's MLAS picks its kernels from cpuid and cannot be
# capped, which the table says. bf16 needs AVX-512, so that tier has no bf16 rows.
#   scripts/bench-peers.sh     (BIN=DIR: binaries built there; PEERS_DIR: where the model and ONNX go)
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}; REPEATS=${REPEATS:-5}; ROUNDS=${ROUNDS:-2}
PY=$(scripts/peers-venv.sh | tail -1)
BIN=${BIN:-}
if [ -z "$BIN" ]; then swift build -c release --product m2d-bench >/dev/null; BIN=.build/release; fi
DIR=${PEERS_DIR:-${M2D_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/m2d-serve}/peers}
if [ ! -f "$DIR/encoder.int8.onnx" ]; then
  echo "preparing $DIR (weights, chunks, PyTorch reference, ONNX fp32 and int8)" >&2
  env -u OPENBLAS_CORETYPE "$PY" tools/peers/bench_peers.py prepare "$DIR" >/dev/null 2>&1
fi
TIER=${TIER:-native}
case $TIER in
  native) engines=(ours-fp32 ours-bf16 ours-int8 torch-fp32 torch-bf16 ort-fp32 ort-int8 ov-fp32 ov-bf16) ;;
  avx2)
    export ONEDNN_MAX_CPU_ISA=AVX2 M2D_MAX_ISA=avx2 ATEN_CPU_CAPABILITY=avx2
    engines=(ours-fp32 ours-int8 torch-fp32 ort-fp32 ort-int8 ov-fp32) ;;
  *) echo "TIER must be native or avx2" >&2; exit 2 ;;
esac
cc -O2 -pthread tools/peers/peak.c -o "$DIR/peak"
cc -O2 tools/peers/linear_gemm.c Sources/CDNNL/packed_gemm.c -ISources/CDNNL -ldl -o "$DIR/linear_gemm"
# A peak is a maximum: measured before and after the engines (the machine is shared), the higher kept.
peak=$("$DIR/peak" "$THREADS"; OMP_NUM_THREADS=$THREADS "$DIR/linear_gemm" || true)
rows="$DIR/rows.jsonl"; : > "$rows"
export THREADS REPEATS ROUNDS TIER

ours() {  # ours-fp32 | ours-bf16 | ours-int8
  local p=${1#ours-} out reason cosine
  if out=$("$BIN/m2d-bench" peer --model "$DIR/model" --input "$DIR/chunks.npy" --output "$DIR/out-ours-$p.npy" \
      --precision "$p" --repeats "$REPEATS" --threads "$THREADS" 2>"$DIR/ours-$p.err"); then
    cosine=$(env -u OPENBLAS_CORETYPE "$PY" tools/peers/bench_peers.py cosine "$DIR" "$DIR/out-ours-$p.npy")
    echo "$out" | "$PY" -c "import json,sys; r=json.load(sys.stdin); r.update(engine='ours-$p', cosine=$cosine, \
kernel=r.pop('engine')); print(json.dumps(r))" >> "$rows"
  else
    reason=$(head -1 "$DIR/ours-$p.err" | sed 's/^Error: //')
    reason=$("$PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$reason")
    echo "{\"engine\": \"ours-$p\", \"error\": $reason}" >> "$rows"
  fi
}

peer() {
  env -u OPENBLAS_CORETYPE "$PY" tools/peers/bench_peers.py run "$1" "$DIR" 2>/dev/null | grep '^{' >> "$rows" ||
    echo "{\"engine\": \"$1\", \"error\": \"failed\"}" >> "$rows"
}

# The machine drifts by 10% and more within minutes, so every engine runs once per round, the order
# reversed every other round, and the table keeps each engine's best round.
for ((round = 0; round < ROUNDS; round++)); do
  order=("${engines[@]}")
  if ((round % 2)); then order=(); for ((i = ${#engines[@]} - 1; i >= 0; i--)); do order+=("${engines[i]}"); done; fi
  echo "round $((round + 1))/$ROUNDS: ${order[*]}" >&2
  for e in "${order[@]}"; do
    case $e in ours-*) ours "$e" ;; *) peer "$e" ;; esac
  done
done
peak="$peak
$("$DIR/peak" "$THREADS"; OMP_NUM_THREADS=$THREADS "$DIR/linear_gemm" || true)"
"$PY" - "$rows" "$peak" "${OPENBLAS_CORETYPE:-(unset)}" <<'PY'
import json, sys
rounds = [json.loads(l) for l in open(sys.argv[1])]
kept = {}  # each engine's best round (fastest batch 1 and batch 8, largest RSS), in the first round's order
for r in rounds:
    k = kept.get(r["engine"])
    if k is None or "error" in k:
        kept[r["engine"]] = dict(r)
    elif "error" not in r:
        k["b1_ms"], k["b8_ms"] = min(k["b1_ms"], r["b1_ms"]), min(k["b8_ms"], r["b8_ms"])
        k["rss_mib"] = max(k["rss_mib"], r["rss_mib"])
rows = list(kept.values())
peak = {}
for name, value in (l.split() for l in sys.argv[2].splitlines()):
    peak[name] = max(peak.get(name, 0.0), float(value))
fp32_peak, int8_peak = peak["fp32_gflops"], peak["int8_gops"]
vnni_peak = peak.get("vnni_gops")  # measured only where the CPU has AVX-512 VNNI and the tier is native
linear = {k: v for k, v in peak.items() if k.startswith("linear_")}
GFLOP = 33.86
tier = lambda e: e.split("-")[1]
names = {"ours-fp32": "ours fp32", "ours-bf16": "ours bf16", "ours-int8": "ours int8",
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
bench_tier = os.environ["TIER"]
print(f"ViT-Base M2D encoder, 80x608 chunks, {os.environ['THREADS']} threads, best of {os.environ['REPEATS']} "
      f"in each of {os.environ['ROUNDS']} rounds (order reversed every other round); tier: "
      + ("this CPU's kernels" if bench_tier == "native" else
         "capped at AVX2 (ONEDNN_MAX_CPU_ISA, M2D_MAX_ISA, ATEN_CPU_CAPABILITY; ONNX Runtime cannot be capped)")
      + f"; measured peak: fp32 {fp32_peak:.0f} GFLOP/s, int8 (AVX2 vpmaddubsw) {int8_peak:.0f} GOP/s"
      + (f", int8 (AVX-512 VNNI vpdpbusd) {vnni_peak:.0f} GOP/s" if vnni_peak else "")
      + f"; OPENBLAS_CORETYPE for ours: {sys.argv[3]}, unset for the peers")
print()
print("| engine | batch 1 ms | vs best peer | batch 8 ms | vs best peer | cosine | peak RSS MiB | of peak (b8) "
      "| kernel |")
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
    vnni = vnni_peak and ("vnni" in r["kernel"] or "bf16" in r["kernel"] or r["engine"] == "ort-int8")
    frac = rate / ((vnni_peak if vnni else int8_peak) if tier(r["engine"]) == "int8" else fp32_peak)
    if bench_tier == "avx2" and r["engine"].startswith("ort"):
        r["kernel"] += " (not capped: MLAS dispatches on cpuid)"
    print(f"| {name} | {r['b1_ms']:.1f} | {v1} | {r['b8_ms']:.0f} | {v8} | {r['cosine']:.6f} | {r['rss_mib']:.0f} "
          f"| {100 * frac:.0f}% | {r['kernel']} |")
if linear:
    parts = [f"{k.split('_')[1]} batch {k.split('_b')[1]}: {v:.0f} "
             f"({100 * v / ((vnni_peak or int8_peak) if 'int8' in k else fp32_peak):.0f}% of peak)"
             for k, v in sorted(linear.items())]
    print()
    print("The Linear layers alone (tools/peers/linear_gemm.c: the 48 products of a forward on their own packed "
          "weights, as the encoder runs them), GFLOP/s or GOP/s: " + "; ".join(parts))
PY
