/**
 * kill -9 during and between calls, restart: no completed call lost, none left live — with the agent
 * process run from the test entry (the real AgentServer, SQLite store and HTTP API; test providers),
 * first under `bun run`, then compiled with `bun build --compile` (bun:sqlite inside the single
 * executable). restart-main.test.ts runs the same scenario with src/cli/main.ts and dist/voice-agent.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopAllManaged } from "../support/process.ts";
import { runRestartScenario } from "./support/restart-scenario.ts";

const ENTRY = "tests/outbound/support/agent-entry.ts";
const buildDir = mkdtempSync(join(tmpdir(), "va-entry-bin-"));
afterAll(async () => {
  await stopAllManaged();
  rmSync(buildDir, { recursive: true, force: true });
});

describe.skipIf(!Bun.which("sipp"))("records survive kill -9 (test entry)", () => {
  test("bun run: completed call kept, live call ended by the restart", async () => {
    const t = await runRestartScenario([process.execPath, "run", ENTRY, "--mode", "all"], "entry");
    console.log(`bun run entry: start ${t.startMs.join("/")} ms; SIGKILL → serving again ${t.killToServingMs.join("/")} ms`);
  }, 50_000);

  test("compiled: completed call kept, live call ended by the restart", async () => {
    const bin = join(buildDir, "agent-entry");
    const t0 = performance.now();
    const b = Bun.spawnSync([process.execPath, "run", "scripts/build.ts", "--entry", ENTRY, "--outfile", bin, "--no-sourcemap"], { stdout: "pipe", stderr: "pipe" });
    expect(b.exitCode, b.stderr.toString()).toBe(0);
    const buildMs = Math.round(performance.now() - t0);
    const t = await runRestartScenario([bin, "--mode", "all"], "compiled-entry");
    console.log(`compiled entry (built in ${buildMs} ms): start ${t.startMs.join("/")} ms; SIGKILL → serving again ${t.killToServingMs.join("/")} ms`);
  }, 55_000);
});
