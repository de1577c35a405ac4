#!/usr/bin/env bash
# Installs the real web servers the redirect-map tests run (Debian packages nginx, apache2 and its
# apache2-utils for httxt2dbm). Idempotent and quick when they are already there. The tests start
# their own instances on 127.0.0.1 with configs in a temp dir; no system service is started here.
set -euo pipefail

have_all() {
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || return 1
  command -v apache2 >/dev/null 2>&1 || [ -x /usr/sbin/apache2 ] || return 1
  command -v httxt2dbm >/dev/null 2>&1 || [ -x /usr/bin/httxt2dbm ] || return 1
  [ -f /usr/lib/apache2/modules/mod_rewrite.so ] || return 1
}

if have_all; then
  echo "webservers: nginx and apache2 already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "webservers: apt-get not found; install nginx and apache2 by hand" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "webservers: need root (or sudo) to apt-get install nginx apache2" >&2
    exit 1
  fi
fi

# Package postinst scripts would start the system nginx and apache2 (both on port 80, so the second
# fails and dpkg errors out). A policy-rc.d that answers 101 stops that; only add one if none exists.
POLICY=/usr/sbin/policy-rc.d
ADDED_POLICY=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  ADDED_POLICY=1
fi
cleanup() { if [ "$ADDED_POLICY" = 1 ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends nginx apache2 apache2-utils >/dev/null

if have_all; then
  echo "webservers: installed nginx and apache2"
else
  echo "webservers: install finished but nginx/apache2/httxt2dbm/mod_rewrite still missing" >&2
  exit 1
fi
