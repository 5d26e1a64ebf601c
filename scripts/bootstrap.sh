#!/usr/bin/env bash
# Installs what building and running voice-agent needs on Debian 12 with Node 20 + npm:
# Bun (pinned, from the npm registry), the project's packages, and the Debian packages for the
# offline speech-to-text. Usage: bash scripts/bootstrap.sh [--test]  (--test adds the test peers).
set -euo pipefail
cd "$(dirname "$0")/.."
BUN_VERSION=$(node -p "require('./package.json').devDependencies.bun")

apt_pkgs=(pocketsphinx pocketsphinx-en-us)
if [ "${1:-}" = "--test" ]; then
  apt_pkgs+=(sip-tester tshark sox libsox-fmt-all flite espeak-ng baresip-core kamailio iproute2 systemd strace sqlite3 postgresql chromium)
fi
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! node_modules/.bin/bun --version 2>/dev/null | grep -qx "$BUN_VERSION"; then
  echo "bootstrap: installing bun@$BUN_VERSION from npm"
  # onnxruntime-node's install script would try to download CUDA files: not needed, skip it.
  ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save --no-package-lock --no-audit --no-fund "bun@$BUN_VERSION" >/dev/null
  node_modules/.bin/bun --version >/dev/null 2>&1 || node node_modules/bun/install.js
fi
ONNXRUNTIME_NODE_INSTALL=skip node_modules/.bin/bun install --frozen-lockfile >/dev/null
echo "bootstrap: bun $(node_modules/.bin/bun --version), packages installed"
