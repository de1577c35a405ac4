#!/usr/bin/env bash
# Usage: test/stack/stop.sh WORKDIR
# Stops exactly the processes start.sh recorded for WORKDIR (TERM, then KILL); keeps the data.
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/stack.py" stop "$@"
