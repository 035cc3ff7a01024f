#!/usr/bin/env bash
# The project's Python tool environments, each built from a version-pinned lock kept in the repo
# (scripts/requirements/NAME.txt, plus NAME.nodeps.txt where a package must go in without its
# declared dependencies), so an upstream release never changes what make test or a benchmark runs.
#
#   scripts/venv.sh NAME            makes (if needed) the virtualenv of NAME; prints its bin folder
#   scripts/venv.sh --update NAME   resolves NAME.in afresh in a throwaway virtualenv and writes the
#                                   new pins to NAME.txt (review the diff, then commit it)
#
# NAME: tools (make test), peers (make bench-peers, bench, bench-train, the references), hear
# (make hear-validate), fuzz (make fuzz-server).
#
# The virtualenvs live outside the repo, under $M2D_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/m2d-serve):
# venvs/NAME-<hash of its lock and the Python version>. A changed lock gets a new folder, so a stale
# environment is never used; a build that was interrupted has no stamp and is made again.
set -euo pipefail
cd "$(dirname "$0")/.."
REQ=scripts/requirements
CACHE=${M2D_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/m2d-serve}
PYTHON=/usr/bin/python3
export PIP_DISABLE_PIP_VERSION_CHECK=1

usage() { sed -n '5,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
need_venv_module() {
  "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null && return
  local sudo; sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  echo "installing python3-venv (Debian) for the tool environments" >&2
  $sudo apt-get install -y -qq python3-venv >/dev/null
}

update=0
[ "${1:-}" = --update ] && { update=1; shift; }
NAME=${1:-}
[ -n "$NAME" ] && [ -f "$REQ/$NAME.in" ] || { echo "scripts/venv.sh: unknown environment '$NAME'" \
  "(one of: $(cd "$REQ" && ls *.in | sed 's/\.in$//' | tr '\n' ' '))" >&2; usage; }
need_venv_module

if [ $update = 1 ]; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  echo "resolving $REQ/$NAME.in in a throwaway virtualenv" >&2
  "$PYTHON" -m venv "$tmp/venv"
  "$tmp/venv/bin/pip" install -q -r "$REQ/$NAME.in" >&2
  { echo "# Pinned by 'scripts/venv.sh --update $NAME' on $(date -u +%F) from $NAME.in ($($PYTHON -V))."
    echo "# Installed as is by 'scripts/venv.sh $NAME'; edit $NAME.in and run the update, never this file."
    # A local version label (2.13.0+cpu, from find-links) is pinned as its public version, which it satisfies.
    "$tmp/venv/bin/pip" freeze --all --exclude-editable | grep -v -E '^(pip|setuptools|wheel)==' | sed -E 's/^([^=]+==[^+]+)\+.*/\1/'
  } > "$tmp/$NAME.txt"
  mv "$tmp/$NAME.txt" "$REQ/$NAME.txt"
  echo "wrote $REQ/$NAME.txt ($(grep -c '==' "$REQ/$NAME.txt") pins)" >&2
  exit 0
fi

LOCK=$REQ/$NAME.txt NODEPS=$REQ/$NAME.nodeps.txt
[ -f "$LOCK" ] || { echo "no $LOCK: run scripts/venv.sh --update $NAME" >&2; exit 2; }
hash=$(cat "$LOCK" $( [ -f "$NODEPS" ] && echo "$NODEPS") <("$PYTHON" -V) | sha256sum | cut -c1-12)
VENV=$CACHE/venvs/$NAME-$hash
mkdir -p "$CACHE/venvs"
exec 9>"$CACHE/venvs/$NAME.lock"
flock 9  # two make targets that need the same environment build it once
if [ "$(cat "$VENV/.m2d-lock" 2>/dev/null)" != "$hash" ]; then
  rm -rf "$VENV"
  echo "making the '$NAME' tool environment in $VENV (pinned: $LOCK)" >&2
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$LOCK" >&2
  if [ -f "$NODEPS" ]; then "$VENV/bin/pip" install -q --no-deps --ignore-requires-python -r "$NODEPS" >&2; fi
  echo "$hash" > "$VENV/.m2d-lock"
fi
echo "$VENV/bin"
