/**
 * Start-up refuses an offline STT that cannot run: with pocketsphinx as the STT (the default without
 * DEEPGRAM_API_KEY) and `pocketsphinx_continuous` or its model missing — the container image carries
 * neither — the agent used to start, answer and greet every call, then never hear the caller.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { missingPocketsphinx } from "../../src/providers/offline.ts";
import { BINARY, ensureBinary } from "../e2e/agent.ts";

const installed = missingPocketsphinx() === undefined;

describe("missingPocketsphinx", () => {
  test("names the program or the model file that is missing", () => {
    expect(missingPocketsphinx("no-such-recogniser-xyz")).toBe(
      "no-such-recogniser-xyz not found on PATH (apt-get install pocketsphinx pocketsphinx-en-us)",
    );
    expect(missingPocketsphinx("sh", "/nonexistent/model")).toBe(
      "pocketsphinx model file missing: /nonexistent/model/en-us (apt-get install pocketsphinx-en-us)",
    );
  });

  test.skipIf(!installed)("undefined where Debian's pocketsphinx and pocketsphinx-en-us are installed", () => {
    expect(missingPocketsphinx()).toBeUndefined();
  });
});

describe("the compiled binary's check-config without pocketsphinx on PATH", () => {
  const run = async (env: Record<string, string>) => {
    await ensureBinary();
    const dir = mkdtempSync(join(tmpdir(), "va-nops-")); // an empty PATH: no pocketsphinx_continuous
    try {
      const p = Bun.spawn([BINARY, "check-config"], {
        env: { PATH: dir, HOME: dir, SIP_HOST: "127.0.0.1", DATA_DIR: join(dir, "data"), ...env },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { out, err, code };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  test("offline STT → exit 2 naming STT_PROVIDER, the program and the fix; cloud STT → ok", async () => {
    const off = await run({});
    expect(off.code).toBe(2);
    expect(off.err).toContain(
      "voice-agent: configuration error: STT_PROVIDER: pocketsphinx (the offline default: DEEPGRAM_API_KEY is not set) cannot run here: pocketsphinx_continuous not found on PATH (apt-get install pocketsphinx pocketsphinx-en-us); or set DEEPGRAM_API_KEY for cloud STT",
    );
    const cloud = await run({ DEEPGRAM_API_KEY: "test-key" });
    expect(cloud.code).toBe(0);
    expect(cloud.out).toContain("configuration ok");
  }, 60_000);
});
