/**
 * prom-client inside a `bun build --compile` executable: compiles a tiny entry that records a few events
 * and prints the exposition, runs it, and parses the output strictly.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseExposition, valueOf } from "./exposition-parser.ts";

const dir = mkdtempSync(join(tmpdir(), "va-metrics-compiled-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("createMetrics works in a compiled binary (default metrics included)", () => {
  const src = resolve(import.meta.dir, "../../src/metrics/index.ts");
  const entry = join(dir, "entry.ts");
  writeFileSync(
    entry,
    `import { createMetrics } from ${JSON.stringify(src)};
const m = createMetrics();
m.callStarted("inbound");
m.sipRequestReceived("OPTIONS");
m.sipResponseSent("OPTIONS", 200);
m.turnLatency("first_rtp", 640);
process.stdout.write(m.contentType + "\\n" + (await m.render()));
`,
  );
  const out = join(dir, "metrics-bin");
  const build = Bun.spawnSync({ cmd: [process.execPath, "build", "--compile", "--minify", entry, "--outfile", out], stderr: "pipe" });
  expect(build.stderr.toString()).not.toContain("error");
  expect(build.exitCode).toBe(0);

  const run = Bun.spawnSync({ cmd: [out], stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin" } });
  expect(run.stderr.toString()).toBe("");
  expect(run.exitCode).toBe(0);
  const text = run.stdout.toString();
  const nl = text.indexOf("\n");
  expect(text.slice(0, nl)).toBe("text/plain; version=0.0.4; charset=utf-8");
  const f = parseExposition(text.slice(nl + 1));
  expect(valueOf(f, "voice_agent_active_calls")).toBe(1);
  expect(valueOf(f, "voice_agent_sip_responses_total", { code: "200", method: "OPTIONS" })).toBe(1);
  expect(valueOf(f, "voice_agent_turn_latency_ms_bucket", { stage: "first_rtp", le: "750" })).toBe(1);
  expect(valueOf(f, "process_resident_memory_bytes")).toBeGreaterThan(1_000_000);
});
