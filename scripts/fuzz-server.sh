#!/usr/bin/env bash
# Schema-driven fuzzing of a live m2d-server with schemathesis (make fuzz-server). The virtualenv
# lives outside the repo; the server listens on loopback only and the run stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-$HOME/.venvs/schemathesis}
PORT=${PORT:-18181}
[ -x "$VENV/bin/schemathesis" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q schemathesis openapi-spec-validator; }
"$VENV/bin/openapi-spec-validator" openapi.yaml
swift build --product m2d-server >/dev/null
BIN=$(swift build --show-bin-path)
"$BIN/m2d-server" --model Tests/Fixtures/golden/tiny_208/model --host 127.0.0.1 --port "$PORT" --api-key testkey --log-level error &
server=$!; trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do curl -fs "127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
"$VENV/bin/schemathesis" --config-file tools/schemathesis.toml run openapi.yaml --url "http://127.0.0.1:$PORT" \
  -H 'Authorization: Bearer testkey' -n "${EXAMPLES:-50}" --workers 1 --phases examples,fuzzing --generation-database none "$@"
