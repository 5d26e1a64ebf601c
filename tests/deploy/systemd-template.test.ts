/**
 * scripts/deploy/voice-agent@.service, the per-core template: an instance verifies without a warning and
 * rates below 2.0 like the single unit, a broken copy is caught, and it differs from voice-agent.service
 * only in identity and files (its own instance env file, state directory and DATA_DIR), so the hardening
 * checked in systemd.test.ts, sandbox.test.ts and syscalls.test.ts holds for it too.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { hasSystemdAnalyze, settings, UnitAnalyzer } from "./systemd-support.ts";

const DEPLOY = resolve(import.meta.dir, "../../scripts/deploy");
const TEMPLATE = readFileSync(join(DEPLOY, "voice-agent@.service"), "utf8");
const SINGLE = readFileSync(join(DEPLOY, "voice-agent.service"), "utf8");
const EXAMPLE = readFileSync(join(DEPLOY, "instance.env.example"), "utf8");
const hasAnalyze = hasSystemdAnalyze();
let units: UnitAnalyzer;

beforeAll(() => {
  units = UnitAnalyzer.create("va-systemd-tpl-");
});
afterAll(() => units?.remove());

/** Runs a systemd-analyze command on `text` as the unit file `voice-agent@2.service` (an instance of the template). */
const analyze = (text: string, args: string[]) => units.analyze(text, args, "voice-agent@2.service");

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
