#!/usr/bin/env bash
# Schema-driven fuzzing of a live m2d-server with schemathesis (make fuzz-server, every check), then
# promtool's lint of its /metrics after the run. The virtualenv (scripts/venv.sh fuzz) lives outside the
# repo; the server listens on loopback only and the run stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
command -v promtool >/dev/null || { echo "installing prometheus (for promtool)"; $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
VENV_BIN=$(scripts/venv.sh fuzz)  # pinned in scripts/requirements/fuzz.txt
PORT=${PORT:-18181}
"$VENV_BIN/openapi-spec-validator" openapi.yaml
swift build --product m2d-server >/dev/null
swift build --product m2d-train >/dev/null
BIN=$(swift build --show-bin-path)
# An M2D-CLAP model with its text side (the official-layout fixture, random weights), so the text routes and
# zero-shot /classify are fuzzed too.
MODEL=$(mktemp -d /tmp/m2d-fuzz-model.XXXXXX)
T=Tests/Fixtures/text/official
"$BIN/m2d-train" import "$T/clap2025/m2d_clap_vit_base-80x608p16x16p16kpBpTI-2025/checkpoint-300.pth" \
  --out "$MODEL" --text-vocab "$T/vocab.txt" >/dev/null
"$BIN/m2d-server" --model "$MODEL" --host 127.0.0.1 --port "$PORT" --admin-port 0 \
  --max-connections-per-ip 0 --api-key testkey --log-level error &
server=$!; trap 'kill $server 2>/dev/null || true; rm -rf "$MODEL"' EXIT
for _ in $(seq 1 300); do curl -fs "127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
"$VENV_BIN/schemathesis" --config-file tools/schemathesis.toml run openapi.yaml --url "http://127.0.0.1:$PORT" \
  -H "Authorization: Bearer testkey" -n "${EXAMPLES:-50}" --workers 1 --phases examples,coverage,fuzzing \
  --generation-database none \
  --checks all "$@"
echo "== promtool check metrics (after the run)"
curl -fs "127.0.0.1:$PORT/metrics" | promtool check metrics && echo "promtool: clean"
