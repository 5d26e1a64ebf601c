/**
 * scripts/deploy/voice-agent@.service, the per-core template: an instance verifies without a warning and
 * rates below 2.0 like the single unit, a broken copy is caught, and it differs from voice-agent.service
 * only in identity and files (its own instance env file, state directory and DATA_DIR), so the hardening
 * checked in systemd.test.ts, sandbox.test.ts and syscalls.test.ts holds for it too.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const DEPLOY = resolve(import.meta.dir, "../../scripts/deploy");
const TEMPLATE = readFileSync(join(DEPLOY, "voice-agent@.service"), "utf8");
const SINGLE = readFileSync(join(DEPLOY, "voice-agent.service"), "utf8");
const EXAMPLE = readFileSync(join(DEPLOY, "instance.env.example"), "utf8");
const EXEC = "/usr/local/bin/voice-agent";
const hasAnalyze = Bun.spawnSync({ cmd: ["sh", "-c", "command -v systemd-analyze"] }).exitCode === 0;
let dir = "";
let standIn = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "va-systemd-tpl-"));
  standIn = join(dir, "bin", "voice-agent");
  mkdirSync(join(dir, "bin"));
  writeFileSync(standIn, "#!/bin/sh\nexit 0\n");
  chmodSync(standIn, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Writes `text` as the unit file `voice-agent@2.service` (an instance of the template) and runs systemd-analyze. */
function analyze(text: string, args: string[]): { exitCode: number; output: string } {
  const sub = join(dir, `u${n++}`);
  mkdirSync(sub);
  const file = join(sub, "voice-agent@2.service");
  writeFileSync(file, text.replaceAll(EXEC, standIn));
  const r = Bun.spawnSync({ cmd: ["systemd-analyze", ...args, file], stdout: "pipe", stderr: "pipe", env: { ...process.env, SYSTEMD_COLORS: "0" } });
  return { exitCode: r.exitCode ?? -1, output: (r.stdout.toString() + r.stderr.toString()).trim() };
}

/** key → values in order (comments and sections dropped). */
function settings(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("[")) continue;
    const eq = line.indexOf("=");
    m.set(line.slice(0, eq), [...(m.get(line.slice(0, eq)) ?? []), line.slice(eq + 1)]);
  }
  return m;
}

describe.skipIf(!hasAnalyze)("systemd-analyze on an instance (voice-agent@2)", () => {
  test("verifies with exit 0 and no output; exposure below 2.0", () => {
    expect(analyze(TEMPLATE, ["verify", "--man=no"])).toEqual({ exitCode: 0, output: "" });
    const sec = analyze(TEMPLATE, ["security", "--offline=yes", "--threshold=20", "--no-pager"]);
    expect(sec.exitCode).toBe(0);
    expect(Number(/Overall exposure level for \S+: ([\d.]+)/.exec(sec.output)?.[1])).toBeLessThan(2);
  });

  test("a broken copy is reported", () => {
    const r = analyze(TEMPLATE.replace("StateDirectory=voice-agent/%i", "StateDirectory=/var/lib/voice-agent/%i"), ["verify", "--man=no"]);
    expect(r.output).toMatch(/StateDirectory/);
  });
});

describe("the template is the single unit plus per-instance files", () => {
  const t = settings(TEMPLATE);
  const s = settings(SINGLE);
  test("instance identity: its own env file (required), state directory and DATA_DIR", () => {
    expect(t.get("EnvironmentFile")).toEqual(["-/etc/voice-agent/env", "/etc/voice-agent/%i.env"]);
    expect(t.get("StateDirectory")).toEqual(["voice-agent/%i"]);
    expect(t.get("Environment")).toEqual(["DATA_DIR=/var/lib/voice-agent/%i"]);
    expect(t.get("Description")?.[0]).toContain("%i");
  });
  test("every other setting is the single unit's (same hardening, same drain on SIGTERM)", () => {
    const own = new Set(["EnvironmentFile", "StateDirectory", "Environment", "Description"]);
    const keys = new Set([...t.keys(), ...s.keys()]);
    for (const k of keys) if (!own.has(k)) expect([k, t.get(k)]).toEqual([k, s.get(k)]);
    expect(t.get("KillSignal")).toEqual(["SIGTERM"]);
  });
  test("the example instance file sets the ports every instance needs of its own", () => {
    const vars = new Set(EXAMPLE.split("\n").filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split("=")[0]));
    for (const v of ["SIP_PORT", "SERVER_PORT", "RTP_PORT_START", "RTP_PORT_END"]) expect(vars.has(v)).toBe(true);
  });
});
