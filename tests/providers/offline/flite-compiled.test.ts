/**
 * The flite WASM (and the default dialogue script) must be embedded in `bun build --compile` output, not
 * read from node_modules or models/: build a tiny binary, run it from a directory where neither can be
 * found, and compare its samples with the in-process synthesis.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFliteTts } from "../../../src/providers/flite/flite-tts.ts";

const dir = mkdtempSync(join(tmpdir(), "flite-compiled-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("compiled binary synthesises with the embedded WASM (same samples as in-process) and loads the embedded script", async () => {
  const exe = join(dir, "flite-check");
  const build = Bun.spawnSync([process.execPath, "build", "--compile", join(import.meta.dir, "fixtures/flite-compiled-entry.ts"), "--outfile", exe], {
    stderr: "pipe",
    stdout: "pipe",
  });
  expect(build.exitCode).toBe(0);
  const text = "Your call is important to us.";
  // cwd = an empty directory outside the repo; the binary has only what it embedded.
  const run = Bun.spawnSync([exe, text], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin" } });
  expect(run.stderr.toString()).toBe("");
  const got = JSON.parse(run.stdout.toString());
  const pcm = await createFliteTts().synthesize8k(text);
  let h = 0;
  for (const s of pcm) h = (Math.imul(h, 31) + s) | 0;
  expect(got).toEqual({ samples: pcm.length, rms: expect.any(Number), hash: h, greeting: expect.stringContaining("automated receptionist") });
  expect(got.rms).toBeGreaterThan(300);
}, 60_000);
