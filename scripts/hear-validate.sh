#!/usr/bin/env bash
# hear-validator (HEAR 2021's own checker, PyPI hearvalidator 2021.0.6) on m2d_serve.hear with the default model.
# It needs torch and tensorflow, so it runs from the peers venv (scripts/peers-venv.sh), which this adds
# tensorflow-cpu, httpx (the client) and hearvalidator to. hearvalidator declares python < 3.9 but runs on
# 3.11 (it only calls torch, tensorflow and numpy), hence --ignore-requires-python.
#   scripts/hear-validate.sh [MODEL]     (BIN: folder of m2d-server, default .build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/m2d-small-debian}
BIN=${BIN:-.build/release}
PY=$(scripts/peers-venv.sh | tail -1)
if ! "$PY" -c "import tensorflow, hearvalidator, httpx" 2>/dev/null; then
  echo "adding tensorflow-cpu and hearvalidator to $(dirname "$(dirname "$PY")")" >&2
  "$(dirname "$PY")/pip" install -q tensorflow-cpu httpx >&2
  "$(dirname "$PY")/pip" install -q --no-deps --ignore-requires-python hearvalidator==2021.0.6 >&2
fi
[ -x "$BIN/m2d-server" ] || { echo "no $BIN/m2d-server: run make build (or set BIN)" >&2; exit 2; }
export M2D_BIN=$(cd "$BIN" && pwd) PYTHONPATH=$PWD/clients/python TF_CPP_MIN_LOG_LEVEL=2
"$(dirname "$PY")/hear-validator" m2d_serve.hear --model "$MODEL" --device cpu
