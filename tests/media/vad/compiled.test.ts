/**
 * The one slow test (~5–20 s): compiles tests/media/vad/compiled-entry.ts with scripts/build.ts into a
 * standalone binary in a temp dir, runs it on real speech and checks that onnxruntime + Silero work
 * with nothing outside the binary, and that its private temp dir is gone after exit and after SIGTERM.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, readdirSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import * as A from "./audio-fixtures.ts";

const ROOT = resolve(import.meta.dir, "../../..");
let tmp: { dir: string; remove: () => void };
let bin: string;
let runTmp: string;
let speechPcm: Int16Array;

beforeAll(async () => {
  if (!A.haveAudioTools()) throw new Error("flite and sox are required (apt-get install flite sox)");
  tmp = A.makeTempDir("vad-compiled-");
  bin = join(tmp.dir, "vad-probe");
  runTmp = join(tmp.dir, "run-tmp");
  mkdirSync(runTmp);
  const build = Bun.spawnSync({
    cmd: [process.execPath, "run", "scripts/build.ts", "--entry", "tests/media/vad/compiled-entry.ts", "--outfile", bin],
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}${build.stdout.toString()}`);
  expect(build.stdout.toString()).toMatch(/size \d+ B .* sha256 [0-9a-f]{64}/);
  speechPcm = A.concat([A.silence(200), await A.speech(tmp.dir, "slt", "Good morning, how can I help you today?")]);
}, 120_000); // the compile alone takes 5–20 s on a busy machine
afterAll(() => tmp?.remove());

/** Run from a directory with no node_modules or models, TMPDIR pointed at a private dir. */
function spawnProbe(args: string[] = []) {
  return Bun.spawn({
    cmd: [bin, ...args],
    cwd: tmp.dir,
    env: { PATH: "/usr/bin:/bin", TMPDIR: runTmp, HOME: tmp.dir },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
}

function ourTempDirs(): string[] {
  return readdirSync(runTmp).filter((f) => f.startsWith("voice-agent-ort-"));
}

test("compiled binary runs Silero on speech and leaves no temp dir behind", async () => {
  expect(readdirSync(tmp.dir).filter((f) => f.endsWith(".map"))).toEqual([]); // one file only
  const p = spawnProbe();
  p.stdin.write(new Uint8Array(speechPcm.buffer));
  await p.stdin.end();
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  expect(err).toBe("");
  expect(code).toBe(0);
  const r = JSON.parse(out);
  expect(r.compiled).toBe(true);
  expect(r.extractedDir.startsWith(join(runTmp, "voice-agent-ort-"))).toBe(true);
  expect(r.extractedDirExists).toBe(false); // removed right after loading
  expect(r.maxProbability).toBeGreaterThan(0.8);
  expect(r.windows).toBe(Math.floor(speechPcm.length / 256));
  expect(existsSync(r.extractedDir)).toBe(false);
  expect(ourTempDirs()).toEqual([]);

  // SIGTERM after start-up: default behaviour (terminate by signal) is kept, nothing left behind.
  const w = spawnProbe(["--wait"]);
  await w.stdin.end();
  const reader = w.stdout.getReader();
  const first = await reader.read();
  expect(new TextDecoder().decode(first.value)).toContain('"compiled":true');
  w.kill("SIGTERM");
  await w.exited;
  expect(w.signalCode).toBe("SIGTERM");
  expect(ourTempDirs()).toEqual([]);
  // Left in TMPDIR after two runs: only Bun's own cache of the unpacked .node binding, which is
  // content-addressed and reused (not one per run). No onnxruntime telemetry files (.ses, mat-debug-*).
  const left = readdirSync(runTmp);
  expect(left.length).toBeLessThanOrEqual(1);
  for (const f of left) expect(f).toMatch(/^\.bun-.*\.node$/);
}, 120_000);

test("under bun run the same entry loads onnxruntime from node_modules, without extraction or telemetry files", async () => {
  const dir = join(tmp.dir, "run-tmp-bun");
  mkdirSync(dir);
  const p = Bun.spawn({
    cmd: [process.execPath, "run", join(ROOT, "tests/media/vad/compiled-entry.ts")],
    cwd: ROOT,
    env: { PATH: "/usr/bin:/bin", TMPDIR: dir, HOME: tmp.dir },
    stdin: new Uint8Array(speechPcm.buffer),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  expect(code).toBe(0);
  const r = JSON.parse(out);
  expect(r).toMatchObject({ compiled: false, extractedDir: null });
  expect(r.maxProbability).toBeGreaterThan(0.8);
  expect(readdirSync(dir)).toEqual([]);
});
