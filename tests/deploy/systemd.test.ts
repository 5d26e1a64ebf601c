/**
 * scripts/deploy/voice-agent.service: systemd's own checker accepts it without a single warning, a
 * broken copy is caught, the offline security review rates it below 2.0, and the settings the
 * deployment relies on are present.
 *
 * `systemd-analyze verify` exits 0 on most bad values ("Failed to parse …, ignoring"), so a clean unit
 * here means exit 0 AND no output; the broken-unit table proves both signals are looked at. It also needs
 * ExecStart's binary to exist and be executable, so the unit is checked as a copy whose ExecStart points
 * at a stand-in executable in a temp dir.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { hasSystemdAnalyze, settings, UnitAnalyzer } from "./systemd-support.ts";

const UNIT = readFileSync(resolve(import.meta.dir, "../../scripts/deploy/voice-agent.service"), "utf8");
let units: UnitAnalyzer;

beforeAll(() => {
  if (!hasSystemdAnalyze()) throw new Error("systemd-analyze not found: apt-get install systemd (Debian package 'systemd')");
  units = UnitAnalyzer.create("va-systemd-");
});
afterAll(() => units?.remove());

/** Runs a systemd-analyze command on `text` as voice-agent.service. */
const analyze = (text: string, args: string[]) => units.analyze(text, args, "voice-agent.service");
const verify = (text: string) => analyze(text, ["verify", "--man=no"]);

/** Replaces exactly one line matching `re` (fails the test if it is absent, so a mutation cannot be a no-op). */
function mutate(re: RegExp, replacement: string): string {
  const lines = UNIT.split("\n");
  const hits = lines.filter((l) => re.test(l));
  expect(hits.length).toBe(1);
  return lines.map((l) => (re.test(l) ? replacement : l)).join("\n");
}

describe("systemd-analyze verify", () => {
  test("the unit verifies with exit 0 and no warnings", () => {
    const r = verify(UNIT);
    expect(r.output).toBe("");
    expect(r.exitCode).toBe(0);
  });

  const broken: [string, RegExp, string, RegExp][] = [
    ["missing binary", /^ExecStart=/, "ExecStart=/nonexistent/voice-agent --mode inbound", /not executable/],
    ["misspelt key", /^Type=exec/, "Typo=exec", /Unknown key 'Typo'/],
    ["bad ProtectSystem", /^ProtectSystem=/, "ProtectSystem=stricter", /protect system value/],
    ["bad time", /^TimeoutStopSec=/, "TimeoutStopSec=fortyfive", /time value/],
    ["bad signal", /^KillSignal=/, "KillSignal=SIGFOO", /signal name/],
    ["unknown syscall group", /^SystemCallFilter=@system-service/, "SystemCallFilter=@no-such-group", /system call group/],
    ["misspelt section", /^\[Service\]/, "[Servce]", /Unknown section 'Servce'/],
    ["unknown address family", /^RestrictAddressFamilies=/, "RestrictAddressFamilies=AF_INET AF_BOGUS", /address famil/i],
  ];
  test.each(broken)("a unit with a %s is reported", (_name, line, replacement, message) => {
    const r = verify(mutate(line, replacement));
    expect(r.output).toMatch(message);
    expect(r.exitCode !== 0 || r.output !== "").toBe(true);
  });
});

describe("systemd-analyze security --offline", () => {
  test("exposure is below 2.0 (OK); the same unit without its sandbox is above", () => {
    const good = analyze(UNIT, ["security", "--offline=yes", "--threshold=20", "--no-pager"]);
    expect(good.exitCode).toBe(0);
    const level = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(good.output)?.[1]);
    expect(level).toBeLessThan(2);

    const sandboxKeys = /^(Protect|Private|Restrict|SystemCall|Capability|Ambient|NoNewPrivileges|DynamicUser|LockPersonality|RemoveIPC|ProcSubset|UMask)/;
    const bare = UNIT.split("\n").filter((l) => !sandboxKeys.test(l)).join("\n");
    const weak = analyze(bare, ["security", "--offline=yes", "--threshold=20", "--no-pager"]);
    expect(weak.exitCode).not.toBe(0); // over the threshold
    expect(Number(/Overall exposure level for \S+: ([\d.]+)/.exec(weak.output)?.[1])).toBeGreaterThan(5);
  });
});

describe("the settings the deployment relies on", () => {
  const s = settings(UNIT);
  const one = (k: string) => {
    const v = s.get(k);
    expect(v?.length ?? 0).toBe(1);
    return v![0];
  };
  test("identity, files, start command", () => {
    expect(one("DynamicUser")).toBe("yes");
    expect(one("StateDirectory")).toBe("voice-agent");
    expect(one("Environment")).toBe("DATA_DIR=/var/lib/voice-agent");
    expect(one("EnvironmentFile")).toBe("-/etc/voice-agent/env");
    expect(one("ExecStart")).toBe("/usr/local/bin/voice-agent --mode inbound");
    expect(one("Restart")).toBe("on-failure");
  });
  test("stop: SIGTERM to the main process, 45 s = 30 s default drain + 15 s", () => {
    expect(one("KillSignal")).toBe("SIGTERM");
    expect(one("KillMode")).toBe("mixed");
    expect(Number(one("TimeoutStopSec"))).toBe(45);
  });
  test("sandbox: no capabilities, no JIT-breaking MemoryDenyWriteExecute", () => {
    expect(one("CapabilityBoundingSet")).toBe("");
    expect(one("AmbientCapabilities")).toBe("");
    expect(one("NoNewPrivileges")).toBe("yes");
    expect(one("ProtectSystem")).toBe("strict");
    expect(one("ProtectHome")).toBe("yes");
    expect(one("PrivateTmp")).toBe("yes");
    expect(one("PrivateDevices")).toBe("yes");
    expect(one("LockPersonality")).toBe("yes");
    expect(one("SystemCallArchitectures")).toBe("native");
    expect(one("RestrictAddressFamilies").split(" ")).toEqual(["AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"]);
    expect(Number(one("LimitNOFILE"))).toBeGreaterThanOrEqual(4096);
    expect(s.has("MemoryDenyWriteExecute")).toBe(false);
    expect(s.has("NoExecPaths")).toBe(false); // /tmp must allow exec (libonnxruntime.so.1 is extracted there)
  });
});
