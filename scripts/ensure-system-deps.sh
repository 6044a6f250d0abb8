#!/usr/bin/env bash
# Installs the system packages the test suite runs for real (redis-server, Debian's chromium)
# when they are missing and we may use apt-get; otherwise says exactly what to install.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "mcpgate tests need: ${missing[*]} (Debian/Ubuntu: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
