#!/usr/bin/env bash
# Makes the virtualenv that make bench-peers runs the other CPU runtimes from (outside the repo):
# PyTorch, ONNX and ONNX Runtime, OpenVINO, numpy and safetensors; timm, einops and nnAudio for the
# official runtime (tools/reference/official_families.py). PyPI's Linux torch wheel needs
# its CUDA libraries to import even on a CPU-only machine (about 3 GB, never used here).
# Prints the venv's python on the last line.
#   scripts/peers-venv.sh [VENV]     (default ~/.venvs/m2d-peers)
set -euo pipefail
VENV=${1:-$HOME/.venvs/m2d-peers}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
dpkg -s python3-venv >/dev/null 2>&1 || $SUDO apt-get install -y -qq python3-venv >/dev/null
MODULES="torch, onnx, onnxruntime, openvino, numpy, safetensors, timm, einops, nnAudio"
if ! "$VENV/bin/python" -c "import $MODULES" 2>/dev/null; then
  echo "setting up $VENV (PyPI: $MODULES, onnxscript)" >&2
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >&2
  "$VENV/bin/pip" install -q torch numpy safetensors onnx onnxscript onnxruntime openvino timm einops nnAudio >&2
fi
echo "$VENV/bin/python"
