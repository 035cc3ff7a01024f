#!/usr/bin/env bash
# Load benchmark of m2d-server (make bench-server). Prints requests/s and p50/p95/p99 latency of
# 10 s WAV uploads at concurrency 1, 4 and 16 (wrk, loopback only), server RSS after the first 200
# requests and after 2,000, and the offline m2d-embed throughput on the same audio in the same run.
# Targets: concurrency 16 >= 90% of offline throughput; RSS growth after the first 200 < 5%; no errors.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-models/m2d-small-debian}
SECONDS_PER_LEVEL=${SECONDS_PER_LEVEL:-15}
PORT=${PORT:-18089}
command -v wrk >/dev/null || { echo "installing wrk"; ${SUDO:-} apt-get install -y -qq wrk >/dev/null; }
swift build -c release --product m2d-server >/dev/null
swift build -c release --product m2d-embed >/dev/null
BIN=$(swift build -c release --show-bin-path)
work=$(mktemp -d); trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
WAV=Tests/Fixtures/golden/audio/ten_sec_mod.wav

# Offline baseline: the same clip, 40 times, through m2d-embed.
mkdir -p "$work/clips"; for i in $(seq 1 40); do cp "$WAV" "$work/clips/c$i.wav"; done
start=$(date +%s.%N); "$BIN/m2d-embed" --model "$MODEL" --batch-chunks 32 --format npy --out "$work/o.npy" "$work/clips" 2>/dev/null; end=$(date +%s.%N)
offline=$(awk "BEGIN { print 40 / ($end - $start) }")

"$BIN/m2d-server" --model "$MODEL" --host 127.0.0.1 --port $PORT --log-level warning &
server=$!
for _ in $(seq 1 600); do curl -fs "127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done

cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "audio/wav"
local f = io.open("$WAV", "rb"); wrk.body = f:read("*all"); f:close()
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT %d %.3f %.1f %.1f %.1f %d\n", summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
LUA
calc() { awk "BEGIN { print $* }"; }
rss() { awk '/VmRSS/ {print $2}' /proc/$server/status; }

# Warm up at the steady-state concurrency (16): 200 requests, then RSS.
wrk -t2 -c16 -d60s -s "$work/post.lua" --timeout 60s "http://127.0.0.1:$PORT/embed" >/dev/null 2>&1 & w=$!
for _ in $(seq 1 600); do n=$(curl -fs "127.0.0.1:$PORT/metrics" | awk -F' ' '/^m2d_requests_total\{route="\/embed",code="200"\}/ {print $2}'); [ "${n:-0}" -ge 200 ] && break; sleep 0.2; done
kill $w 2>/dev/null || true; wait $w 2>/dev/null || true
rss200=$(rss)

printf "\n| concurrency | requests | req/s | p50 ms | p95 ms | p99 ms | errors | vs offline |\n|---|---|---|---|---|---|---|---|\n"
total_errors=0; rate16=0
for c in 1 4 16; do
  line=$(wrk -t$(( c < 2 ? 1 : 2 )) -c$c -d${SECONDS_PER_LEVEL}s -s "$work/post.lua" --timeout 60s "http://127.0.0.1:$PORT/embed" | grep RESULT)
  read -r _ n rps p50 p95 p99 err <<<"$line"
  total_errors=$((total_errors + err))
  printf "| %d | %d | %.2f | %.0f | %.0f | %.0f | %d | %.2f |\n" $c $n $rps $p50 $p95 $p99 $err "$(calc "$rps / $offline")"
  [ $c = 16 ] && rate16=$rps
done

# Top up to 2,000 requests in all, then RSS again.
while :; do
  n=$(curl -fs "127.0.0.1:$PORT/metrics" | awk '/^m2d_requests_total\{route="\/embed",code="200"\}/ {print $2}')
  [ "${n%.*}" -ge 2000 ] && break
  wrk -t2 -c16 -d5s -s "$work/post.lua" --timeout 60s "http://127.0.0.1:$PORT/embed" >/dev/null
done
rss2000=$(rss)
growth=$(calc "100 * ($rss2000 - $rss200) / $rss200")
failed=$(curl -fs "127.0.0.1:$PORT/metrics" | awk '/^m2d_requests_total\{route="\/embed",code="[^2]/ {s+=$2} END {print s+0}')

echo
printf "| measurement | value | target |\n|---|---|---|\n"
printf "| offline m2d-embed | %.2f clips/s | |\n" "$offline"
printf "| server at concurrency 16 | %.2f req/s (%.0f%% of offline) | >= 90%% |\n" "$rate16" "$(calc "100 * $rate16 / $offline")"
printf "| server RSS after 200 / after 2000+ requests | %d / %d KiB (%+.1f%%) | < 5%% growth |\n" "$rss200" "$rss2000" "$growth"
printf "| failed requests (wrk errors, non-2xx) | %d / %d | 0 |\n" "$total_errors" "$failed"
echo "model: $MODEL, engine: $(curl -fs 127.0.0.1:$PORT/info | sed -n 's/.*"engine":"\([^"]*\)".*/\1/p')"
