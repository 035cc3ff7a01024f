#!/usr/bin/env bash
# hear-validator (HEAR 2021's own checker, PyPI hearvalidator 2021.0.6) on m2d_serve.hear with the default model.
# It needs torch and tensorflow: its environment is scripts/venv.sh hear (pinned in
# scripts/requirements/hear.txt; hearvalidator goes in without its declared dependencies, as it declares
# python < 3.9 but runs on 3.11: hear.nodeps.txt).
#   scripts/hear-validate.sh [MODEL]     (BIN: folder of m2d-server, default .build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/m2d-small-debian}
BIN=${BIN:-.build/release}
VENV_BIN=$(scripts/venv.sh hear)
[ -x "$BIN/m2d-server" ] || { echo "no $BIN/m2d-server: run make build (or set BIN)" >&2; exit 2; }
export M2D_BIN=$(cd "$BIN" && pwd) PYTHONPATH=$PWD/clients/python TF_CPP_MIN_LOG_LEVEL=2
"$VENV_BIN/hear-validator" m2d_serve.hear --model "$MODEL" --device cpu
