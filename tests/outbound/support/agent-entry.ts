/**
 * A test entry point that runs the agent like src/cli/main.ts does (configuration from the environment,
 * AgentServer, "voice-agent started" log line, SIGTERM drain) but with the test providers of
 * ./agent.ts (flite TTS, energy STT stand-in, goodbye LLM), so process-level tests (kill -9, restart)
 * do not depend on the offline speech recogniser being installed.
 *
 *   bun run tests/outbound/support/agent-entry.ts --mode all
 */
import { AgentServer } from "../../../src/cli/agent-server";
import { loadConfig, requireOutbound, type Mode } from "../../../src/cli/config";
import { createFliteTts } from "../../../src/providers/flite/flite-tts";
import { createLogger } from "../../../src/util/log";
import { energyStt, goodbyeLlm } from "./agent.ts";

const mode = (process.argv[process.argv.indexOf("--mode") + 1] ?? "all") as Mode;
const cfg = loadConfig();
requireOutbound(cfg, mode);
const log = createLogger({ level: cfg.logLevel });
const tts = createFliteTts();
const stt = energyStt();
const server = await AgentServer.start({
  cfg,
  providers: {
    stt,
    llm: goodbyeLlm(),
    tts,
    fallback: { stt, tts },
    describe: { stt: "energy (test)", llm: "goodbye (test)", tts: "flite (offline)" },
  },
  log,
  version: "0.0.0-test",
  mode,
});
log.info({ mode, sip: server.sipPort, recovered: server.store.recovery.ended.length }, "voice-agent started");
process.on("SIGTERM", () => {
  void server.shutdown(1000).then(() => process.exit(0));
});
