#!/usr/bin/env bash
# release: build the one executable and describe it.
#
#   bash scripts/deploy/release.sh [--no-build]
#
# 1. `bun run build` (scripts/build.ts → dist/voice-agent), unless --no-build (then dist/voice-agent must
#    exist already, e.g. built in a previous CI step).
# 2. Smoke test: `dist/voice-agent --version` must print package.json's version.
# 3. Prints the size (bytes and MiB), the shared libraries it links (all must be in a distroless "cc"
#    base: glibc, libstdc++, libgcc_s) and the sha256, and writes dist/voice-agent.sha256 in sha256sum
#    format, so `cd dist && sha256sum -c voice-agent.sha256` checks a download.
# Exit status: 0 on success, 1 on any failure (nothing is written to dist/ except by the build).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/node_modules/.bin:$PATH"
BIN=dist/voice-agent

if [ "${1:-}" != "--no-build" ]; then
  bun run build
fi
[ -x "$BIN" ] || { echo "release: $BIN missing or not executable" >&2; exit 1; }

want=$(bun -e 'console.log(require("./package.json").version)')
got=$("$BIN" --version)
[ "$got" = "$want" ] || { echo "release: $BIN --version printed '$got', package.json says '$want'" >&2; exit 1; }

size=$(stat -c %s "$BIN")
sha=$(sha256sum "$BIN" | cut -d' ' -f1)
# Written from dist/ so the file names the binary without a directory (what sha256sum -c expects).
(cd dist && sha256sum voice-agent > voice-agent.sha256.tmp && mv voice-agent.sha256.tmp voice-agent.sha256)

echo "release: $BIN version $got"
echo "release: size $size B ($(awk "BEGIN { printf \"%.1f\", $size / 1048576 }") MiB)"
if command -v ldd >/dev/null; then
  echo "release: links $(ldd "$BIN" | awk '{ print $1 }' | grep -v '^linux-vdso' | tr '\n' ' ')"
fi
echo "release: sha256 $sha"
echo "release: wrote dist/voice-agent.sha256"
