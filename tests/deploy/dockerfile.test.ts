/**
 * The Dockerfile, checked without a container engine:
 * - its runtime stages are what the deployment promises (distroless cc nonroot base, one file added,
 *   USER nonroot, the entry point and arguments our CLI accepts, EXPOSEd ports equal to the
 *   configuration defaults, the RTP range included);
 * - its build stage copies everything the build needs: the COPY instructions are replayed into an
 *   empty directory (with the installed node_modules standing in for `bash scripts/bootstrap.sh`, which
 *   needs apt and npm), then the stage's own build command runs there and the binary it makes runs.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pkg from "../../package.json";
import { loadConfig } from "../../src/cli/config.ts";
import { parseCommand } from "../../src/cli/args.ts";

const REPO = resolve(import.meta.dir, "../..");
const TEXT = readFileSync(join(REPO, "Dockerfile"), "utf8");

interface Instruction {
  op: string;
  args: string;
  line: number;
}
interface Stage {
  from: string;
  name?: string;
  body: Instruction[];
}

/** Splits the Dockerfile into stages of instructions (comments dropped, `\` continuations joined). */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.replace(/\\\n/g, " ").split("\n");
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile line ${i + 1}: cannot parse "${line}"`);
    const op = m[1]!.toUpperCase();
    if (op === "FROM") {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(m[2]!.trim());
      stages.push({ from: f![1]!, name: f![2], body: [] });
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile line ${i + 1}: ${op} before FROM`);
      stages.at(-1)!.body.push({ op, args: m[2]!.trim(), line: i + 1 });
    }
  });
  return stages;
}

const stages = parseDockerfile(TEXT);
const byName = (n: string) => stages.find((s) => s.name === n)!;
const ops = (s: Stage, op: string) => s.body.filter((i) => i.op === op);

test("BuildKit syntax line (COPY --chmod needs it) and three stages, runtime last (the default target)", () => {
  expect(TEXT.split("\n")[0]).toBe("# syntax=docker/dockerfile:1");
  expect(stages.map((s) => s.name)).toEqual(["build", "prebuilt", "runtime"]);
  expect(byName("build").from).toBe("node:20-bookworm");
});

describe.each(["runtime", "prebuilt"])("stage %s", (name) => {
  const s = byName(name);
  test("distroless cc nonroot: the binary plus a nonroot-owned DATA_DIR, USER nonroot", () => {
    expect(s.from).toBe("gcr.io/distroless/cc-debian12:nonroot");
    const copies = ops(s, "COPY").map((c) => c.args.split(/\s+/));
    expect(copies.map((c) => c.at(-1))).toEqual(["/voice-agent", "/data"]);
    expect(copies[1]).toContain("--chown=65532:65532");
    expect(ops(s, "ENV").map((i) => i.args)).toEqual(["DATA_DIR=/data"]);
    expect(ops(s, "RUN")).toEqual([]); // no shell in distroless: a RUN would fail
    expect(ops(s, "USER").map((i) => i.args)).toEqual(["nonroot"]);
  });

  test("ENTRYPOINT + CMD form a command our CLI accepts: run --mode inbound", () => {
    const entry = JSON.parse(ops(s, "ENTRYPOINT")[0]!.args) as string[];
    const cmd = JSON.parse(ops(s, "CMD")[0]!.args) as string[];
    expect(entry).toEqual(["/voice-agent"]);
    expect(parseCommand(cmd)).toEqual({ kind: "run", mode: "inbound" });
  });

  test("EXPOSE = the configuration defaults: SIP UDP and TCP (SIP_TCP is on by default), HTTP TCP, the whole RTP range", () => {
    const cfg = loadConfig({ SIP_PUBLIC_IP: "192.0.2.1" });
    expect(cfg.sipTcp).toBe(true);
    const exposed = ops(s, "EXPOSE").flatMap((i) => i.args.split(/\s+/));
    expect(exposed).toEqual([`${cfg.sipPort}/udp`, `${cfg.sipPort}/tcp`, `${cfg.serverPort}/tcp`, `${cfg.rtpPortStart}-${cfg.rtpPortEnd}/udp`]);
  });
});

describe("build stage", () => {
  const work = mkdtempSync(join(tmpdir(), "va-docker-ctx-"));
  afterAll(() => {
    Bun.spawnSync({ cmd: ["rm", "-rf", "--one-file-system", work] });
  });

  test("every COPY source is tracked by git (a clean clone is a complete build context)", () => {
    const tracked = Bun.spawnSync({ cmd: ["git", "ls-files"], cwd: REPO }).stdout.toString().split("\n");
    for (const c of ops(byName("build"), "COPY")) {
      const parts = c.args.split(/\s+/).filter((p) => !p.startsWith("--"));
      for (const src of parts.slice(0, -1)) {
        const isDir = src.endsWith("/");
        expect(tracked.some((f) => (isDir ? f.startsWith(src) : f === src)), `line ${c.line}: ${src}`).toBe(true);
      }
    }
  });

  test("replaying its COPYs into an empty dir and running its build command yields a working binary", () => {
    const build = byName("build");
    const workdir = ops(build, "WORKDIR")[0]!.args;
    expect(workdir).toBe("/src");
    for (const c of ops(build, "COPY")) {
      const parts = c.args.split(/\s+/).filter((p) => !p.startsWith("--"));
      const dest = join(work, parts.at(-1)!);
      for (const src of parts.slice(0, -1)) {
        const cmd = src.endsWith("/") ? ["sh", "-c", `mkdir -p "$2" && cp -a "$1"/. "$2"/`, "sh", join(REPO, src), dest] : ["cp", "-a", join(REPO, src), dest];
        const r = Bun.spawnSync({ cmd, stderr: "pipe" });
        expect(r.exitCode, `COPY ${c.args}: ${r.stderr}`).toBe(0);
      }
    }
    // `RUN bash scripts/bootstrap.sh` installs Bun and the packages; the installed ones stand in for it.
    const runs = ops(build, "RUN").map((r) => r.args);
    expect(runs[0]).toBe("bash scripts/bootstrap.sh");
    symlinkSync(join(REPO, "node_modules"), join(work, "node_modules"));
    const t0 = performance.now();
    const r = Bun.spawnSync({ cmd: ["sh", "-c", runs[1]!], cwd: work, stdout: "pipe", stderr: "pipe", timeout: 240_000 });
    const out = r.stdout.toString() + r.stderr.toString();
    expect(r.exitCode, out.slice(-3000)).toBe(0);
    console.log(`dockerfile: build stage command ran in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(r.stdout.toString().trim().split("\n").at(-1)).toBe(pkg.version); // `./dist/voice-agent --version`
  }, 240_000);
});
