#!/usr/bin/env bash
# setup.sh - install everything espfab needs to build, test and benchmark on
# Debian 12: the C libraries (Debian -dev packages), the build tools, Node.js
# and the esptool-js package (the flasher stubs espfab uploads, and the
# independent client that tests espsim).  Idempotent; run as root (or with
# sudo available).  Nothing here is downloaded except Debian and npm packages.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

debs=(build-essential cmake pkg-config git
      libuv1-dev libserialport-dev libsqlite3-dev zlib1g-dev libinih-dev libssl-dev
      libncurses-dev sqlite3 nodejs npm tmux valgrind clang)
# Optional extras used by the report rendering test (headless Chromium).
if [ "${ESPFAB_SETUP_BROWSER:-1}" = 1 ]; then
  debs+=(chromium)
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo=sudo; fi
fi

missing=()
for p in "${debs[@]}"; do
  # node/npm may come from outside Debian on some machines: accept the commands.
  case "$p" in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# esptool-js, pinned in tools/npm/package-lock.json, into tools/npm/node_modules (git-ignored).
if [ ! -f "$here/tools/npm/node_modules/esptool-js/package.json" ]; then
  echo "setup: installing esptool-js (npm) into tools/npm/node_modules"
  (cd "$here/tools/npm" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
echo "setup: done"
