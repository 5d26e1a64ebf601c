#!/usr/bin/env bash
# The test command: installs what the tests need (Debian packages for the real SIP peers and audio
# tools, Bun and the project's packages), builds the compiled binary the end-to-end tests call, and runs
# the whole suite with `bun test`. Extra arguments go to `bun test` (e.g. a path filter).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "test: 1/3 installing what the tests need (scripts/bootstrap.sh --test)"
bash scripts/bootstrap.sh --test
export PATH="$PWD/node_modules/.bin:$PATH"
echo "test: 2/3 building dist/voice-agent (the end-to-end tests run the compiled binary; 5-30 s)"
bun run build
echo "test: 3/3 bun test: $(find tests -name '*.test.ts' | wc -l) files, one after another (about 20 min on 2 cores); each test's result prints as it ends"
# --timeout: Bun 1.4 ignores `timeout` in bunfig.toml (the default stays 5 s, too short for the e2e files
# on a busy 2-core machine); the flag is what sets the per-test default.
exec bun test --timeout 60000 "$@"
