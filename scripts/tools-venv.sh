#!/usr/bin/env bash
# The virtualenv of the test tools from PyPI (outside the repo): kubernetes-validate for
# deploy/kubernetes; ray (with ray.data), pyarrow, httpx and numpy for examples/ray_embed.py and its
# test. Prints the venv's bin folder.
#   scripts/tools-venv.sh [VENV]    (default ~/.venvs/m2d-tools)
set -euo pipefail
VENV=${1:-$HOME/.venvs/m2d-tools}
if [ ! -x "$VENV/bin/kubernetes-validate" ] || [ ! -x "$VENV/bin/ray" ]; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  dpkg -s python3-venv >/dev/null 2>&1 || $SUDO apt-get install -y -qq python3-venv >/dev/null
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q kubernetes-validate "ray[data]" pyarrow httpx numpy pytest >&2
fi
echo "$VENV/bin"
