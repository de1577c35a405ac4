#!/usr/bin/env bash
# Debian packages the test suite uses: a real Mailman 3 core + HyperKitty, nginx and Apache for the
# redirect maps, Chromium for the HTML report. Idempotent and quick when everything is present.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
for script in "$here/../stack/install.sh" "$here/../webservers/install.sh"; do
  if [ -f "$script" ]; then bash "$script"; fi
done
