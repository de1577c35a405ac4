#!/usr/bin/env bash
# Installs the Debian packages of a Mailman 3 core + HyperKitty stack for the integration tests.
# Idempotent: exits at once when every package is already installed.
# --no-install-recommends keeps exim4 (default-mta) and mailman3-web out; a temporary policy-rc.d
# keeps the package's postinst from starting the system-wide Mailman.
set -euo pipefail

PACKAGES=(mailman3 python3-django-hyperkitty python3-mailman-hyperkitty python3-whoosh python3-gunicorn)

all_installed() {
  local status
  status=$(dpkg-query -W -f='${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null) || return 1
  [ "$(grep -c '^ii' <<<"$status")" -eq "${#PACKAGES[@]}" ]
}

if all_installed; then
  echo "mailman3 stack packages already installed"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else
    echo "install.sh: need root (or sudo) to install: ${PACKAGES[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# The lock timeout lets a concurrent apt/dpkg run (another job on the same machine) finish first.
APT_OPTS=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

POLICY=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
  if [ "$created_policy" -eq 1 ]; then "${SUDO[@]}" rm -f "$POLICY"; fi
}
trap cleanup EXIT
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# temporary, written by mm2migrate test/stack/install.sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 755 "$POLICY"
  created_policy=1
fi

start=$(date +%s)
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
  "${SUDO[@]}" apt-get update -q -o DPkg::Lock::Timeout=300
fi
if ! "${SUDO[@]}" apt-get install "${APT_OPTS[@]}" "${PACKAGES[@]}"; then
  echo "install.sh: install failed, retrying after apt-get update" >&2
  "${SUDO[@]}" apt-get update -q -o DPkg::Lock::Timeout=300
  "${SUDO[@]}" apt-get install "${APT_OPTS[@]}" "${PACKAGES[@]}"
fi

# Should a service manager have started the system-wide Mailman anyway, stop it: the tests run their own.
if [ "$created_policy" -eq 0 ] && [ -d /run/systemd/system ]; then
  "${SUDO[@]}" systemctl stop mailman3.service >/dev/null 2>&1 || true
fi

all_installed || { echo "install.sh: packages still missing after install" >&2; exit 1; }
echo "mailman3 stack packages installed in $(( $(date +%s) - start )) s"
