#!/usr/bin/env bash
# Data-parallel m2d-train across two hosts: two network namespaces of this machine (the project's own test
# hosts, 10.77.0.1 and 10.77.0.2, joined by a veth pair), one MPI rank in each, talking over TCP on that link
# only; then the same command in one process, and the results compared (per-step losses within 1e-3
# relative, exported encoders' embeddings cosine >= 0.9999). Needs root (ip netns) and Open MPI.
#   scripts/test-multihost.sh        (BIN: folder of m2d-train and m2d-embed, default .build/debug)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(cd "${BIN:-.build/debug}" && pwd)
[ "$(id -u)" = 0 ] || { echo "test-multihost needs root for ip netns (run it as root, or under sudo)" >&2; exit 2; }
for tool in ip mpirun; do command -v $tool >/dev/null || { echo "no $tool: make deps installs it" >&2; exit 2; }; done
A=m2d-host-1 B=m2d-host-2 WORK=
cleanup() {
  ip netns del $A 2>/dev/null || true; ip netns del $B 2>/dev/null || true
  [ -z "$WORK" ] || rm -rf "$WORK"
}
trap cleanup EXIT
cleanup  # namespaces an interrupted earlier run left behind
WORK=$(mktemp -d /tmp/m2d-multihost.XXXXXX)
ip netns add $A && ip netns add $B
ip link add m2d-veth1 netns $A type veth peer name m2d-veth2 netns $B
ip -n $A addr add 10.77.0.1/24 dev m2d-veth1 && ip -n $B addr add 10.77.0.2/24 dev m2d-veth2
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A link set m2d-veth1 up && ip -n $B link set m2d-veth2 up
ip -n $B link show m2d-veth2 | grep -q "state UP" || { echo "the veth link did not come up" >&2; exit 1; }

# A small pre-training set: 16 two-second tones at distinct pitches, written here.
python3 - "$WORK/audio" <<'PY'
import math, os, struct, sys
out = sys.argv[1]; os.makedirs(out)
for i, f in enumerate([220, 330, 440, 660, 880, 1320, 1760, 2640] * 2):
    n = 16000 * 2
    data = b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * f * (1 + 0.05 * i) * t / 16000)))
                    for t in range(n))
    with open(f"{out}/tone{i:02d}.wav", "wb") as w:
        w.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " +
                struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16) + b"data" + struct.pack("<I", len(data)) + data)
PY
FLAGS=(--preset tiny --frames 64 --epochs 3 --batch-size 4 --norm-draws 50 --lr 1e-3 --warmup-epochs 1
       --log-every 4 --save-every 1000 --backend openblas --data "$WORK/audio")
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$BIN/m2d-train" pretrain --run "$WORK/one" "${FLAGS[@]}" >/dev/null
printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' > "$WORK/hosts"
received() { ip netns exec $B cat /sys/class/net/m2d-veth2/statistics/rx_bytes; }
before=$(received)
ip netns exec $A mpirun --allow-run-as-root --hostfile "$WORK/hosts" -np 2 --map-by node \
  --mca plm_rsh_agent "$PWD/scripts/mpi-netns-agent.sh" --mca btl self,tcp \
  --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
  -x OMP_NUM_THREADS=1 -x OPENBLAS_NUM_THREADS=1 \
  "$BIN/m2d-train" pretrain --run "$WORK/two" "${FLAGS[@]}" | tee "$WORK/two.log" | grep -E "ranks|saved"
after=$(received)
for run in one two; do "$BIN/m2d-train" export "$WORK/$run" --out "$WORK/$run-model" >/dev/null; done
WAV=Tests/Fixtures/golden/audio/five_sec_tone_noise.wav
"$BIN/m2d-embed" --model "$WORK/one-model" $WAV > "$WORK/one.jsonl"
"$BIN/m2d-embed" --model "$WORK/two-model" $WAV > "$WORK/two.jsonl"
python3 - "$WORK" "$((after - before))" <<'PY'
import json, math, sys
work, link_bytes = sys.argv[1], int(sys.argv[2])
def losses(run):
    return [float(l.split(",")[2]) for l in open(f"{work}/{run}/metrics.csv").read().splitlines()[1:]]
a, b = losses("one"), losses("two")
assert len(a) == len(b) > 0, (len(a), len(b))
worst = max(abs(x - y) / abs(x) for x, y in zip(a, b))
e1 = json.load(open(f"{work}/one.jsonl"))["embedding"]; e2 = json.load(open(f"{work}/two.jsonl"))["embedding"]
cos = sum(x * y for x, y in zip(e1, e2)) / math.sqrt(sum(x * x for x in e1) * sum(y * y for y in e2))
print(f"{len(a)} steps: worst loss difference {worst:.2e} relative (limit 1e-3); embedding cosine {cos:.7f} "
      f"(limit 0.9999); {link_bytes / 1e6:.1f} MB received by host 2 over the veth link")
assert worst <= 1e-3 and cos >= 0.9999 and link_bytes > 100_000, "multihost run differs from one process"
print("multihost: OK")
PY
