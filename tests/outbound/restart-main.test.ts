/**
 * kill -9 during and between calls, restart — the agent run as users run it: `bun run src/cli/main.ts
 * --mode all` with the offline providers (the opening needs no recogniser or model), and, when it has
 * been built (`bun run build`), the compiled `dist/voice-agent`.
 */
import { afterAll, describe, test } from "bun:test";
import { existsSync } from "node:fs";
import { stopAllManaged } from "../support/process.ts";
import { runRestartScenario } from "./support/restart-scenario.ts";

afterAll(() => stopAllManaged());

const hasSipp = !!Bun.which("sipp");
// The entry point imports the offline providers (src/providers/offline); without them it cannot start.
const mainRuns = existsSync("src/providers/offline.ts") || existsSync("src/providers/offline/index.ts");
const BINARY = "dist/voice-agent";

describe.skipIf(!hasSipp || !mainRuns)("records survive kill -9: bun run src/cli/main.ts", () => {
  test("completed call kept, live call ended by the restart", async () => {
    const t = await runRestartScenario([process.execPath, "run", "src/cli/main.ts", "--mode", "all"], "main");
    console.log(`main.ts: start ${t.startMs.join("/")} ms; SIGKILL → serving again ${t.killToServingMs.join("/")} ms`);
  }, 50_000);
});

describe.skipIf(!hasSipp || !existsSync(BINARY))("records survive kill -9: compiled dist/voice-agent", () => {
  test("completed call kept, live call ended by the restart", async () => {
    const t = await runRestartScenario([BINARY, "--mode", "all"], "binary");
    console.log(`binary: start ${t.startMs.join("/")} ms; SIGKILL → serving again ${t.killToServingMs.join("/")} ms`);
  }, 50_000);
});
