/**
 * scripts/deploy/release.sh --no-build, run in a scratch copy of the repository layout whose
 * dist/voice-agent is a small compiled stand-in that prints a version: it reports size, links and
 * sha256, writes dist/voice-agent.sha256 that `sha256sum -c` accepts, and refuses a binary whose
 * --version does not match package.json.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dir, "../..");
let root = "";

/**
 * Compiles (once: each `bun build --compile` costs seconds) a stand-in binary into the scratch dist/
 * that prints $STAND_IN_VERSION for --version.
 */
function standIn(): void {
  const entry = join(root, "stand-in.ts");
  writeFileSync(entry, `if (process.argv[2] === "--version") console.log(process.env.STAND_IN_VERSION);\n`);
  const r = Bun.spawnSync({ cmd: [process.execPath, "build", "--compile", entry, "--outfile", join(root, "dist/voice-agent")], stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
}

/** Runs release.sh --no-build with the stand-in answering `version` to --version. */
function release(version: string): { code: number | null; out: string } {
  const env = { ...process.env, STAND_IN_VERSION: version };
  const r = Bun.spawnSync({ cmd: ["bash", join(root, "scripts/deploy/release.sh"), "--no-build"], env, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "va-release-"));
  mkdirSync(join(root, "scripts/deploy"), { recursive: true });
  mkdirSync(join(root, "dist"));
  copyFileSync(join(REPO, "scripts/deploy/release.sh"), join(root, "scripts/deploy/release.sh"));
  writeFileSync(join(root, "package.json"), JSON.stringify({ name: "voice-agent", version: "9.8.7" }));
  symlinkSync(join(REPO, "node_modules"), join(root, "node_modules"));
  standIn();
}, 60_000);
afterAll(() => {
  Bun.spawnSync({ cmd: ["rm", "-rf", "--one-file-system", root] });
});

test("prints version, size, links and sha256; writes a checksum file sha256sum -c accepts", () => {
  const r = release("9.8.7");
  expect(r.code, r.out).toBe(0);
  const bin = join(root, "dist/voice-agent");
  const sha = new Bun.CryptoHasher("sha256").update(readFileSync(bin)).digest("hex");
  const size = statSync(bin).size;
  expect(r.out).toContain("release: dist/voice-agent version 9.8.7");
  expect(r.out).toContain(`release: size ${size} B (`);
  expect(r.out).toContain(`release: sha256 ${sha}`);
  expect(r.out).toMatch(/release: links .*libc\.so\.6/);
  expect(readFileSync(join(root, "dist/voice-agent.sha256"), "utf8")).toBe(`${sha}  voice-agent\n`);
  const check = Bun.spawnSync({ cmd: ["sha256sum", "-c", "voice-agent.sha256"], cwd: join(root, "dist"), stdout: "pipe" });
  expect(check.exitCode).toBe(0);
  expect(check.stdout.toString().trim()).toBe("voice-agent: OK");
});

test("a binary whose --version differs from package.json is refused (exit 1, checksum not rewritten)", () => {
  expect(release("9.8.7").code).toBe(0);
  const before = readFileSync(join(root, "dist/voice-agent.sha256"), "utf8");
  const r = release("0.0.1");
  expect(r.code).toBe(1);
  expect(r.out).toContain("printed '0.0.1', package.json says '9.8.7'");
  expect(readFileSync(join(root, "dist/voice-agent.sha256"), "utf8")).toBe(before);
});
