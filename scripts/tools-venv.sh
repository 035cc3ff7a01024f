#!/usr/bin/env bash
# The test tools' virtualenv (scripts/venv.sh tools: pinned in scripts/requirements/tools.txt).
# Prints its bin folder.
exec "$(dirname "$0")/venv.sh" tools
