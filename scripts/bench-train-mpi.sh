#!/usr/bin/env bash
# Data-parallel scaling figures for make bench-train: per preset, a pre-training step in one process (2 threads)
# and under mpirun -np 2 (1 thread per rank, shared memory) on this machine, with the all-reduce after the
# backward pass (--overlap off, the default when ranks share a host) and overlapped with it (--overlap on, the
# default with one rank per host), from metrics.csv
# (seconds and comm_seconds per step, comm = the wait the backward did not hide; the first step is warm-up
# and dropped); then a model of the step time against the number of nodes N and the interconnect bandwidth,
# from the measured compute time and all-reduce volume.
#   scripts/bench-train-mpi.sh [STEPS]     (BIN: folder of m2d-train, default .build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release}
STEPS=${1:-4}
WORK=$(mktemp -d /tmp/m2d-bench-mpi.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOT=$([ "$(id -u)" = 0 ] && echo --allow-run-as-root || true)
DATA=(--data Tests/Fixtures/golden/audio)
PASS=(-x OMP_NUM_THREADS=1 -x OPENBLAS_NUM_THREADS=1)
[ -n "${OPENBLAS_CORETYPE:-}" ] && PASS+=(-x OPENBLAS_CORETYPE)
rows=()
for spec in "small 8" "m2d_vit_base 4"; do
  set -- $spec
  preset=$1 batch=$2
  flags=(--preset "$preset" --batch-size "$batch" --epochs 1000 --max-steps "$STEPS" --norm-draws 20 --log-every 1000
         --save-every 100000 --backend openblas "${DATA[@]}")
  OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 "$BIN/m2d-train" pretrain --run "$WORK/$preset-1" "${flags[@]}" \
    > "$WORK/$preset-1.log"
  mpirun $ROOT --oversubscribe -np 2 "${PASS[@]}" "$BIN/m2d-train" pretrain --run "$WORK/$preset-2s" "${flags[@]}" \
    --overlap off > "$WORK/$preset-2s.log"
  mpirun $ROOT --oversubscribe -np 2 "${PASS[@]}" "$BIN/m2d-train" pretrain --run "$WORK/$preset-2" "${flags[@]}" \
    --overlap on > "$WORK/$preset-2.log"
  rows+=("$preset $batch $WORK/$preset-1 $WORK/$preset-2s $WORK/$preset-2 $WORK/$preset-2.log")
done
python3 - "${rows[@]}" <<'PY'
import re, statistics, sys
print(f"OPENBLAS_CORETYPE={__import__('os').environ.get('OPENBLAS_CORETYPE', '(unset)')}; first step dropped")
print(f"{'preset':<13}{'batch':>6}{'ranks x threads':>17}{'step s':>9}{'wait s':>9}{'wait %':>8}{'MB/step':>9}"
      f"{'GB/s':>7}{'speed-up':>10}")
model = []
for row in sys.argv[1:]:
    preset, batch, one, serial, two, log = row.split()
    def steps(run):
        lines = open(f"{run}/metrics.csv").read().splitlines()[2:]
        return [float(l.split(",")[6]) for l in lines], [float(l.split(",")[7]) for l in lines]
    s1, _ = steps(one)
    ss, cs = steps(serial)
    s2, c2 = steps(two)
    mb = float(re.search(r"all-reduce of ([0-9.]+) MB", open(log).read()).group(1))
    t1, tss, t2 = statistics.median(s1), statistics.median(ss), statistics.median(s2)
    c, css = statistics.median(c2), statistics.median(cs)
    # A ring all-reduce moves 2 (N-1)/N of the buffer through each rank.
    bw = 2 * 0.5 * mb / 1e3 / css if css > 0 else float("nan")
    print(f"{preset:<13}{batch:>6}{'1 x 2':>17}{t1:>9.3f}{0:>9.3f}{0:>8.1f}{0:>9.1f}{'':>7}{1:>10.2f}")
    print(f"{preset:<13}{batch:>6}{'2 x 1, after':>17}{tss:>9.3f}{css:>9.3f}{100 * css / tss:>8.1f}{mb:>9.1f}"
          f"{bw:>7.2f}{t1 / tss:>10.2f}")
    print(f"{preset:<13}{batch:>6}{'2 x 1, overlap':>17}{t2:>9.3f}{c:>9.3f}{100 * c / t2:>8.1f}{mb:>9.1f}"
          f"{'':>7}{t1 / t2:>10.2f}")
    model.append((preset, batch, tss - css, mb))
print("\nModel (weak scaling): N nodes, each doing what one rank did above (batch/2 clips per step on one core,"
      " its measured compute time); step(N) = compute + 2 (N-1)/N x volume / bandwidth (ring all-reduce, no"
      " overlap). The figure is the communication share of the step.")
bands = [("1 Gb/s", 0.125), ("10 Gb/s", 1.25), ("25 Gb/s", 3.125), ("100 Gb/s", 12.5)]
print(f"{'preset':<13}{'N':>5}" + "".join(f"{b:>11}" for b, _ in bands))
for preset, batch, compute, mb in model:
    for n in [2, 8, 64]:
        cells = []
        for _, gbs in bands:
            comm = 2 * (n - 1) / n * mb / 1e3 / gbs
            cells.append(f"{100 * comm / (compute + comm):>10.0f}%")
        print(f"{preset:<13}{n:>5}" + "".join(cells))
PY
