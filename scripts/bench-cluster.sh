#!/usr/bin/env bash
# make bench-cluster: N m2d-server replicas on 127.0.0.1 behind HAProxy (Debian's), configured as
# the README's "Behind a load balancer" says, under wrk load at concurrency 16 (10 s WAV uploads):
#   1. a rolling restart (SIGTERM each replica in turn, wait for its exit, start it again and wait
#      for readiness): failed requests (must be 0), and p50/p99 during and outside the rollout;
#   2. kill -9 of one replica: the requests that fail (only its in-flight ones) and how long until
#      no request fails (must be within HAProxy's health-check interval plus one request);
#   3. throughput through HAProxy with 1, 2 and 3 replicas of one thread each.
# Prints a table; exits 1 if the rollout failed a request or the kill was not contained.
#   scripts/bench-cluster.sh [--short]    (--short: 2 replicas, shorter runs, parts 1 and 2; make test)
#   BIN=DIR uses binaries built there; REPLICAS (default 3), SECONDS_QUIET (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
SHORT=0; [ "${1:-}" = --short ] && SHORT=1
REPLICAS=${REPLICAS:-$([ $SHORT = 1 ] && echo 2 || echo 3)}
QUIET=${SECONDS_QUIET:-$([ $SHORT = 1 ] && echo 8 || echo 20)}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
for tool in haproxy wrk curl; do
  command -v $tool >/dev/null || $SUDO apt-get install -y -qq $tool >/dev/null
done
BIN=${BIN:-}
if [ -z "$BIN" ]; then swift build -c release --product m2d-server >/dev/null; BIN=.build/release; fi
MODEL=${MODEL:-models/m2d-small-debian}
WAV=Tests/Fixtures/golden/audio/ten_sec_mod.wav
work=$(mktemp -d); pids=(); hap=""
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -n "$hap" ] && kill "$hap" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

ports=(); admins=()
start() {  # replica index, threads
  local i=$1
  "$BIN/m2d-server" --model "$MODEL" --host 127.0.0.1 --port "${ports[$i]}" --admin-port "${admins[$i]}" \
    --threads "$2" --shutdown-timeout 20 >>"$work/replica$i.log" 2>&1 &
  pids[$i]=$!
  for _ in $(seq 1 600); do
    curl -fs "127.0.0.1:${admins[$i]}/health/ready" >/dev/null 2>&1 && return 0
    kill -0 "${pids[$i]}" 2>/dev/null || { cat "$work/replica$i.log" >&2; return 1; }
    sleep 0.1
  done
  return 1
}
haproxy_up() {  # replicas in the backend
  local n=$1
  HAPORT=$(free_port)
  {
    cat <<CFG
global
  maxconn 128
  # Buffers hold a whole 10 s upload (320 KB), so a request is complete in HAProxy before it is sent
  # and can be sent again; embedding is idempotent.
  tune.bufsize 1048576
  log stdout format raw local0
defaults
  mode http
  log global
  option httplog
  timeout connect 2s
  # Requests wait here while every replica has maxconn in flight (one replica is down in a rollout).
  timeout queue 60s
  timeout client 120s
  timeout server 120s
  # A replica that refuses or drops a connection (restarting, killed) costs a retry on another one:
  # uploads are buffered, so a request that never reached a server is safe to send again.
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response junk-response
  option http-buffer-request
  http-reuse safe
frontend m2d
  bind 127.0.0.1:$HAPORT
  default_backend replicas
backend replicas
  balance leastconn
  # Readiness on the admin port: 503 while loading or draining takes a replica out of rotation.
  option httpchk GET /health/ready
  http-check expect status 200
  # A refused or failed connection takes the replica out at once (not at the next check): with
  # leastconn a replica that fails fast would otherwise draw every retry.
  default-server inter 1s fall 1 rise 1 maxconn 8 observe layer4 error-limit 1 on-error mark-down
CFG
    for i in $(seq 0 $((n - 1))); do echo "  server r$i 127.0.0.1:${ports[$i]} check port ${admins[$i]}"; done
  } > "$work/haproxy.cfg"
  haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
  hap=$!
  for _ in $(seq 1 100); do curl -fs -o /dev/null "127.0.0.1:$HAPORT/health/live" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "audio/wav"
local f = io.open("$WAV", "rb"); wrk.body = f:read("*all"); f:close()
done = function(summary, latency, requests)
  -- errors.status counts answers with status > 399 (done() cannot see the threads' own tables).
  local e = summary.errors
  local bad = e.connect + e.read + e.write + e.timeout + e.status
  io.write(string.format("RESULT %d %.2f %.0f %.0f %d\n", summary.requests, summary.requests / summary.duration * 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, bad))
end
LUA
load() {  # seconds -> "RESULT requests rps p50 p99 failed"
  wrk -t2 -c16 -d"$1"s -s "$work/post.lua" --timeout 60s "http://127.0.0.1:$HAPORT/embed" | grep RESULT
}

for i in $(seq 0 $((REPLICAS - 1))); do ports[$i]=$(free_port); admins[$i]=$(free_port); done
for i in $(seq 0 $((REPLICAS - 1))); do start "$i" 1; done
haproxy_up "$REPLICAS"
status=0
echo "| part | replicas | requests | req/s | p50 ms | p99 ms | failed | result |"
echo "|---|---|---|---|---|---|---|---|"

# 1. Rolling restart under load.
read -r _ n rps p50 p99 bad <<<"$(load "$QUIET")"
echo "| outside a rollout | $REPLICAS | $n | $rps | $p50 | $p99 | $bad | $([ "$bad" = 0 ] && echo PASS || echo FAIL) |"
[ "$bad" = 0 ] || status=1
# The restarts run in this shell (the replicas are its children); the load runs beside them.
roll_seconds=$((REPLICAS * 6 + 6))
load "$roll_seconds" > "$work/roll.result" & loader=$!
sleep 2
for i in $(seq 0 $((REPLICAS - 1))); do
  kill -TERM "${pids[$i]}"
  code=0; wait "${pids[$i]}" || code=$?
  [ "$code" = 0 ] || { echo "replica $i exited $code after SIGTERM" >&2; status=1; }
  start "$i" 1
  sleep 2  # HAProxy sees it ready within one check interval
done
wait $loader
read -r _ n rps p50 p99 bad < "$work/roll.result"
echo "| during a rolling restart (SIGTERM, wait, start) | $REPLICAS | $n | $rps | $p50 | $p99 | $bad | $([ "$bad" = 0 ] && echo PASS || echo FAIL) |"
[ "$bad" = 0 ] || status=1

# 2. kill -9 of one replica under load: at most its in-flight requests (maxconn 8) fail.
load 10 > "$work/kill.result" & loader=$!
sleep 3; kill -9 "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
wait $loader
read -r _ n rps p50 p99 bad < "$work/kill.result"
contained=$([ "$bad" -le 8 ] && echo PASS || echo FAIL)
echo "| kill -9 of one replica (10 s run) | $REPLICAS | $n | $rps | $p50 | $p99 | $bad (its in-flight ones, <= 8) | $contained |"
[ "$contained" = PASS ] || status=1
read -r _ n rps p50 p99 bad <<<"$(load 5)"
echo "| the 5 s after the kill | $((REPLICAS - 1)) | $n | $rps | $p50 | $p99 | $bad | $([ "$bad" = 0 ] && echo PASS || echo FAIL) |"
[ "$bad" = 0 ] || status=1
start 0 1

# 3. Throughput with 1, 2, 3 replicas (one thread each).
if [ $SHORT = 0 ]; then
  for n in 1 2 3; do
    kill "$hap"; wait "$hap" 2>/dev/null || true
    haproxy_up "$n"
    read -r _ req rps p50 p99 bad <<<"$(load "$QUIET")"
    echo "| throughput, one thread per replica | $n | $req | $rps | $p50 | $p99 | $bad | |"
  done
fi
exit $status
