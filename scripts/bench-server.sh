#!/usr/bin/env bash
# Load benchmark of m2d-server (make bench-server). Prints requests/s and p50/p95/p99 latency of
# 10 s WAV uploads at concurrency 1, 4 and 16 (wrk, loopback only), the same clip as multipart and as
# JSON base64 at concurrency 1 and 16 (rounds, alternating order), server RSS after the first 200
# requests and after 2,000, and the offline m2d-embed throughput on the same audio in the same run.
# Targets: concurrency 16 >= 90% of offline throughput; JSON >= 90% of multipart; RSS growth after the
# first 200 < 5%; no errors.
#
# BIN=DIR runs the binaries in DIR instead of building. BASELINE=DIR also starts DIR's m2d-server
# (flags: BASELINE_FLAGS, default none) and runs every level on both servers in turn, ROUNDS times
# (default 1; 4 with a baseline, the order alternating by round), so a noisy machine affects both alike;
# the table adds the ratio.
# SERVER_FLAGS are added to our server's command line (default: an admin port picked by the kernel,
# no per-address limit since every wrk connection comes from 127.0.0.1, as behind a load balancer).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-models/m2d-small-debian}
SECONDS_PER_LEVEL=${SECONDS_PER_LEVEL:-15}
PORT=${PORT:-18089}
BASE_PORT=$((PORT + 1))
command -v wrk >/dev/null || { echo "installing wrk"; ${SUDO:-} apt-get install -y -qq wrk >/dev/null; }
if [ -z "${BIN:-}" ]; then
  swift build -c release --product m2d-server >/dev/null
  swift build -c release --product m2d-embed >/dev/null
  BIN=$(swift build -c release --show-bin-path)
fi
SERVER_FLAGS=${SERVER_FLAGS---admin-port 0 --max-connections-per-ip 0}
ROUNDS=${ROUNDS:-$([ -n "${BASELINE:-}" ] && echo 4 || echo 1)}
work=$(mktemp -d)
server=""; base=""
trap 'kill $server $base 2>/dev/null || true; rm -rf "$work"' EXIT
WAV=Tests/Fixtures/golden/audio/ten_sec_mod.wav

# Offline: the same clip, 40 times, through m2d-embed.
mkdir -p "$work/clips"; for i in $(seq 1 40); do cp "$WAV" "$work/clips/c$i.wav"; done
start=$(date +%s.%N)
"$BIN/m2d-embed" --model "$MODEL" --batch-chunks 32 --format npy --out "$work/o.npy" "$work/clips" 2>/dev/null
end=$(date +%s.%N)
offline=$(awk "BEGIN { print 40 / ($end - $start) }")

# shellcheck disable=SC2086
"$BIN/m2d-server" --model "$MODEL" --host 127.0.0.1 --port $PORT --log-level warning $SERVER_FLAGS &
server=$!
if [ -n "${BASELINE:-}" ]; then
  # shellcheck disable=SC2086
  "$BASELINE/m2d-server" --model "$MODEL" --host 127.0.0.1 --port $BASE_PORT --log-level warning \
    ${BASELINE_FLAGS:-} &
  base=$!
fi
for p in $PORT ${base:+$BASE_PORT}; do
  for _ in $(seq 1 600); do curl -fs "127.0.0.1:$p/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
done

cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "audio/wav"
local f = io.open("$WAV", "rb"); wrk.body = f:read("*all"); f:close()
done = function(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format("RESULT %d %.3f %.1f %.1f %.1f %d\n", summary.requests,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, errors))
end
LUA
calc() { awk "BEGIN { print $* }"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
served() {  # whole /embed 200s so far
  curl -fs "127.0.0.1:$1/metrics" | awk '/^m2d_requests_total\{route="\/embed",code="200"\}/ {n = int($2)} END {print n + 0}'
}
idle() {  # waits until neither server holds a request: wrk leaves requests in flight when a run ends,
  # and a server that works them off (older builds do not drop departed clients' work) would slow the
  # other's next measurement.
  for p in $PORT ${BASE_PORT:-}; do
    for _ in $(seq 1 600); do
      n=$(curl -fs "127.0.0.1:$p/metrics" | awk '/^m2d_inflight(_requests)? / {print int($2)}')
      [ "${n:-0}" = 0 ] && break; sleep 0.1
    done
  done
}
load() {  # port concurrency seconds -> RESULT fields
  idle
  wrk -t$(($2 < 2 ? 1 : 2)) -c"$2" -d"$3"s -s "$work/post.lua" --timeout 60s "http://127.0.0.1:$1/embed" |
    grep RESULT
}

# Warm up at the steady-state concurrency (16): 200 requests, then RSS.
wrk -t2 -c16 -d120s -s "$work/post.lua" --timeout 60s "http://127.0.0.1:$PORT/embed" >/dev/null 2>&1 &
w=$!
for _ in $(seq 1 1200); do n=$(served $PORT); [ "${n:-0}" -ge 200 ] && break; sleep 0.2; done
kill $w 2>/dev/null || true; wait $w 2>/dev/null || true
rss200=$(rss)
[ -n "$base" ] && load $BASE_PORT 16 10 >/dev/null

if [ -n "$base" ]; then
  printf "\n| concurrency | round | req/s | p50 ms | p95 ms | p99 ms | errors | baseline req/s | baseline p50 ms "
  printf "| ratio |\n|---|---|---|---|---|---|---|---|---|---|\n"
else
  printf "\n| concurrency | round | req/s | p50 ms | p95 ms | p99 ms | errors | vs offline |\n"
  printf "|---|---|---|---|---|---|---|---|\n"
fi
total_errors=0; rate16=0; ratios=""
for round in $(seq 1 "$ROUNDS"); do
  for c in 1 4 16; do
    # With a baseline, the order alternates by round (ours first in odd rounds, the baseline first in even
    # ones), so that whatever the first run of a pair does to the second cancels over the rounds.
    if [ -n "$base" ] && [ $((round % 2)) = 0 ]; then
      read -r _ _ brps bp50 _ _ berr <<<"$(load $BASE_PORT $c "$SECONDS_PER_LEVEL")"
    fi
    read -r _ _ rps p50 p95 p99 err <<<"$(load $PORT $c "$SECONDS_PER_LEVEL")"
    total_errors=$((total_errors + err))
    [ "$c" = 16 ] && rate16=$(calc "$rate16 + $rps / $ROUNDS")
    if [ -n "$base" ]; then
      if [ $((round % 2)) = 1 ]; then
        read -r _ _ brps bp50 _ _ berr <<<"$(load $BASE_PORT $c "$SECONDS_PER_LEVEL")"
      fi
      ratio=$(calc "$rps / $brps"); ratios="$ratios $c:$ratio"
      printf "| %d | %d | %.2f | %.0f | %.0f | %.0f | %d | %.2f | %.0f | %.2f |\n" \
        "$c" "$round" "$rps" "$p50" "$p95" "$p99" "$err" "$brps" "$bp50" "$ratio"
    else
      printf "| %d | %d | %.2f | %.0f | %.0f | %.0f | %d | %.2f |\n" \
        "$c" "$round" "$rps" "$p50" "$p95" "$p99" "$err" "$(calc "$rps / $offline")"
    fi
  done
done

# Request forms: the same clip as multipart and as JSON base64 (what the OpenAI SDK and browsers send),
# concurrency 1 and 16, FORM_ROUNDS rounds (default 2) in alternating order, on our server only.
python3 - "$WAV" "$work" <<'PY'
import base64, sys
wav, work = open(sys.argv[1], "rb").read(), sys.argv[2]
boundary = "m2d-bench-form"
open(f"{work}/multipart.body", "wb").write(
    f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.wav\"\r\n"
    f"Content-Type: audio/wav\r\n\r\n".encode() + wav + f"\r\n--{boundary}--\r\n".encode())
open(f"{work}/json.body", "wb").write(b'{"inputs": "' + base64.b64encode(wav) + b'"}')
PY
form_script() {  # name content-type
  cat > "$work/$1.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "$2"
local f = io.open("$work/$1.body", "rb"); wrk.body = f:read("*all"); f:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %.1f %d\n", summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, e.connect + e.read + e.write + e.status + e.timeout))
end
LUA
}
form_script multipart "multipart/form-data; boundary=m2d-bench-form"
form_script json "application/json"
form() {  # form concurrency -> req/s p50 errors
  idle
  wrk -t$(($2 < 2 ? 1 : 2)) -c"$2" -d"$SECONDS_PER_LEVEL"s -s "$work/$1.lua" --timeout 60s \
    "http://127.0.0.1:$PORT/embed" | awk '/RESULT/ {print $3, $4, $5}'
}
printf "\n| concurrency | round | multipart req/s | p50 ms | JSON base64 req/s | p50 ms | JSON / multipart |\n"
printf "|---|---|---|---|---|---|---|\n"
form_ratios=""
for round in $(seq 1 "${FORM_ROUNDS:-2}"); do
  for c in 1 16; do
    if [ $((round % 2)) = 1 ]; then
      read -r mrps mp50 merr <<<"$(form multipart $c)"; read -r jrps jp50 jerr <<<"$(form json $c)"
    else
      read -r jrps jp50 jerr <<<"$(form json $c)"; read -r mrps mp50 merr <<<"$(form multipart $c)"
    fi
    total_errors=$((total_errors + merr + jerr))
    form_ratios="$form_ratios $c:$(calc "$jrps / $mrps")"
    printf "| %d | %d | %.2f | %.0f | %.2f | %.0f | %.2f |\n" "$c" "$round" "$mrps" "$mp50" "$jrps" "$jp50" \
      "$(calc "$jrps / $mrps")"
  done
done

# Top up to 2,000 requests in all, then RSS again. Long runs: each run's end abandons up to 16 requests.
while :; do
  [ "$(served $PORT)" -ge 2000 ] && break
  wrk -t2 -c16 -d60s -s "$work/post.lua" --timeout 60s "http://127.0.0.1:$PORT/embed" >/dev/null
done
rss2000=$(rss)
growth=$(calc "100 * ($rss2000 - $rss200) / $rss200")
# 499: wrk closed connections with requests in flight when a run ended (the server cancels those).
metrics=$(curl -fs "127.0.0.1:$PORT/metrics")
failed=$(awk '/^m2d_requests_total\{route="\/embed",code="[^2]/ && !/code="499"/ {s+=$2} END {print s+0}' <<<"$metrics")
left=$(awk '/^m2d_requests_total\{route="\/embed",code="499"/ {s+=$2} END {print s+0}' <<<"$metrics")

echo
printf "| measurement | value | target |\n|---|---|---|\n"
printf "| offline m2d-embed | %.2f clips/s | |\n" "$offline"
printf "| server at concurrency 16 (mean of %d) | %.2f req/s (%.0f%% of offline) | >= 90%% |\n" \
  "$ROUNDS" "$rate16" "$(calc "100 * $rate16 / $offline")"
if [ -n "$base" ]; then
  for c in 1 4 16; do
    mean=$(tr ' ' '\n' <<<"$ratios" | awk -F: -v c=$c '$1 == c { s += $2; n++ } END { printf "%.2f", s / n }')
    printf "| throughput vs baseline at concurrency %d (mean ratio) | %s | >= 1.00 within noise |\n" "$c" "$mean"
  done
fi
for c in 1 16; do
  mean=$(tr ' ' '\n' <<<"$form_ratios" | awk -F: -v c=$c '$1 == c { s += $2; n++ } END { printf "%.2f", s / n }')
  printf "| JSON base64 vs multipart at concurrency %d (mean ratio) | %s | >= 0.90 |\n" "$c" "$mean"
done
printf "| server RSS after 200 / after 2000+ requests | %d / %d KiB (%+.1f%%) | < 5%% growth |\n" \
  "$rss200" "$rss2000" "$growth"
printf "| failed requests (wrk errors, non-2xx other than 499) | %d / %d | 0 |\n" "$total_errors" "$failed"
printf "| requests cancelled because wrk left (499) | %d | |\n" "$left"
echo "model: $MODEL, engine: $(curl -fs "127.0.0.1:$PORT/info" | sed -n 's/.*"engine":"\([^"]*\)".*/\1/p')" \
  "${BASELINE:+, baseline: $BASELINE}"
