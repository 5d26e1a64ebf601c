/**
 * kill -9 during and between calls, restart: no completed call lost, none left live — with the agent
 * process run from the test entry (the real AgentServer, SQLite store and HTTP API; test providers).
 * restart-main.test.ts and restart-binary.test.ts run the same scenario with src/cli/main.ts and the
 * compiled dist/voice-agent.
 */
import { afterAll, describe, test } from "bun:test";
import { stopAllManaged } from "../support/process.ts";
import { runRestartScenario } from "./support/restart-scenario.ts";

afterAll(() => stopAllManaged());

describe.skipIf(!Bun.which("sipp"))("records survive kill -9 (test entry)", () => {
  test("completed call kept, live call ended by the restart", async () => {
    const t = await runRestartScenario([process.execPath, "run", "tests/outbound/support/agent-entry.ts", "--mode", "all"], "entry");
    console.log(`test entry: start ${t.startMs.join("/")} ms; SIGKILL → serving again ${t.killToServingMs.join("/")} ms`);
  }, 50_000);
});
