#!/usr/bin/env bash
# Usage: test/stack/start.sh [--fresh] WORKDIR
# Starts Mailman 3 core (REST + LMTP) and HyperKitty (gunicorn) on 127.0.0.1 with all state in
# WORKDIR and writes WORKDIR/stack.json. Does nothing if the stack recorded there still answers.
# Ports: MM3_REST_PORT, MM3_LMTP_PORT, HK_PORT (free ones otherwise). See stack.py for the rest.
set -euo pipefail
if [ ! -x /usr/bin/python3 ]; then
  echo "start.sh: /usr/bin/python3 missing; run test/stack/install.sh as root" >&2
  exit 1
fi
exec /usr/bin/python3 "$(dirname "$0")/stack.py" start "$@"
