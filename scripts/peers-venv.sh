#!/usr/bin/env bash
# The virtualenv that make bench-peers runs the other CPU runtimes from (scripts/venv.sh peers: PyTorch,
# ONNX Runtime, OpenVINO and the official runtime's packages, pinned in scripts/requirements/peers.txt).
# PyPI's Linux torch wheel needs its CUDA libraries to import even on a CPU-only machine (about 3 GB,
# never used); where pip's find-links offer the +cpu build of the pinned version, pip takes that.
# Prints the venv's python on the last line.
set -euo pipefail
bin=$("$(dirname "$0")/venv.sh" peers)
echo "$bin/python"
