#!/usr/bin/env bash
# Installs what building and running voice-agent needs on Debian 12 with Node 20 + npm:
# Bun (pinned, from the npm registry), the project's packages, and the Debian packages for the
# offline speech-to-text. Usage: bash scripts/bootstrap.sh [--test]  (--test adds the test peers).
# It says what it installs and why, and shows progress while apt-get works (a fresh machine with
# --test fetches a few hundred packages: minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
BUN_VERSION=$(node -p "require('./package.json').devDependencies.bun")

# Why each Debian package is here (printed before installing it).
declare -A why=(
  [pocketsphinx]="offline speech-to-text, the default STT (a process per call)"
  [pocketsphinx-en-us]="its US-English acoustic model and dictionary"
  [sip-tester]="SIPp: the SIP peer most end-to-end tests call the agent with, or answer its calls"
  [tshark]="reads the tests' packet captures (RTP timing, DTMF events, SIP on the wire)"
  [sox]="audio conversions and levels in the tests"
  [libsox-fmt-all]="sox's WAV/raw/G.711 formats"
  [flite]="test callers' voices (the agent's own flite is embedded in the binary)"
  [espeak-ng]="more test voices (barge-in, recogniser and echo tests)"
  [baresip-core]="a second SIP user agent (TLS, hold/resume, outbound callee)"
  [kamailio]="SIP proxy and registrar (REGISTER, outbound through a proxy, the fleet balancer)"
  [iproute2]="ip/ss, for looking at sockets and interfaces"
  [systemd]="systemd-analyze, which checks the shipped service units"
  [strace]="the system-call profile of the hardened binary"
  [sqlite3]="opens calls.db from outside the agent (locking, crash-recovery tests)"
  [postgresql]="the PostgreSQL call store (DATABASE_URL) and fleet tests"
  [chromium]="headless browser for the call page test"
)
apt_pkgs=(pocketsphinx pocketsphinx-en-us)
if [ "${1:-}" = "--test" ]; then
  apt_pkgs+=(sip-tester tshark sox libsox-fmt-all flite espeak-ng baresip-core kamailio iproute2 systemd strace sqlite3 postgresql chromium)
fi
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${#missing[@]} Debian packages:"
  for p in "${missing[@]}"; do printf '  %-20s %s\n' "$p" "${why[$p]:-}"; done
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  start=$SECONDS
  echo "bootstrap: apt-get update"
  $SUDO apt-get update -qq
  total=$($SUDO apt-get install -s --no-install-recommends "${missing[@]}" 2>/dev/null | grep -c '^Inst ' || true)
  echo "bootstrap: apt-get install: $total packages with their dependencies (download, then set-up)"
  got=0 done_=0
  # One line per package we asked for and every 25th other one, with the time so far.
  while IFS= read -r line; do
    case $line in
      Get:*)
        got=$((got + 1))
        if [ $((got % 25)) -eq 0 ] || [ "$got" -eq "$total" ]; then echo "  downloaded $got/$total ($((SECONDS - start)) s)"; fi
        ;;
      "Setting up "*)
        done_=$((done_ + 1))
        pkg=${line#Setting up }; pkg=${pkg%% *}; pkg=${pkg%%:*}
        if [ -n "${why[$pkg]:-}" ] || [ $((done_ % 25)) -eq 0 ]; then echo "  [$done_/$total] set up $pkg ($((SECONDS - start)) s)"; fi
        ;;
      E:* | W:*) echo "  $line" ;;
    esac
  done < <(DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" 2>&1)
  wait $! || { echo "bootstrap: apt-get install failed (see the E: lines above)"; exit 1; }
  echo "bootstrap: Debian packages installed ($((SECONDS - start)) s)"
fi

if ! node_modules/.bin/bun --version 2>/dev/null | grep -qx "$BUN_VERSION"; then
  echo "bootstrap: installing bun@$BUN_VERSION from npm (with the project's packages: a minute or two)"
  # npm's only warnings here are EBADENGINE "Unsupported engine": @google/genai and @opentelemetry/* ask for
  # Node 22, but they run inside Bun, never on this Node; so they are not shown (--loglevel=error).
  echo "bootstrap: (npm's Node 22 engine warnings are hidden: those packages run in Bun, not Node)"
  # onnxruntime-node's install script would try to download CUDA files: not needed, skip it.
  ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error "bun@$BUN_VERSION" >/dev/null
  node_modules/.bin/bun --version >/dev/null 2>&1 || node node_modules/bun/install.js
fi
ONNXRUNTIME_NODE_INSTALL=skip node_modules/.bin/bun install --frozen-lockfile >/dev/null
echo "bootstrap: bun $(node_modules/.bin/bun --version), packages installed"
