#!/usr/bin/env bash
# The demo call: installs what is needed, builds the binary, starts the agent on the offline default
# pipeline, calls it with the built-in SIP caller (which speaks three phrases synthesised locally and
# records the call), prints the conversation with each turn's delay, and stops the agent.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "demo: 1/3 installing what the agent needs (scripts/bootstrap.sh)"
bash scripts/bootstrap.sh
export PATH="$PWD/node_modules/.bin:$PATH"
echo "demo: 2/3 building dist/voice-agent (one executable; 5-30 s)"
bun run build
echo "demo: 3/3 starting the agent and calling it"

export SIP_HOST=127.0.0.1 SIP_PORT="${DEMO_SIP_PORT:-5060}" SERVER_PORT="${DEMO_HTTP_PORT:-8000}"
export RTP_PORT_START="${RTP_PORT_START:-10000}" RTP_PORT_END="${RTP_PORT_END:-20000}"
export LOG_LEVEL="${LOG_LEVEL:-warn}"
mkdir -p demo
./dist/voice-agent --mode inbound > demo/agent.log 2>&1 &
agent=$!
trap 'kill $agent 2>/dev/null; wait $agent 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  node -e "fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" "http://127.0.0.1:$SERVER_PORT/" && break
  kill -0 $agent 2>/dev/null || { echo "demo: the agent did not start:"; cat demo/agent.log; exit 1; }
  sleep 0.1
done
echo "demo: agent listening on sip:agent@127.0.0.1:$SIP_PORT (log: demo/agent.log)"
./dist/voice-agent call "sip:agent@127.0.0.1:$SIP_PORT" \
  --say "My name is John Smith." \
  --say "I need to book an appointment." \
  --say "Yes, that is right." \
  --record demo/call.wav \
  --agent-http "http://127.0.0.1:$SERVER_PORT"
echo "demo: recording written to demo/call.wav"
