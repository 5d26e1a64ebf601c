/**
 * The two places where scripts/deploy/voice-agent.service departs from the strictest sandbox, each
 * shown by applying the restriction systemd would apply (tests/deploy/sandbox-exec.ts) to Bun:
 *
 * - MemoryDenyWriteExecute=yes (PR_SET_MDWE): JavaScriptCore loses its read+write+execute JIT area and
 *   runs everything in its interpreter; a hot loop gets several times slower. So the unit leaves it off.
 * - RestrictAddressFamilies without AF_NETLINK: getifaddrs(3) fails, so os.networkInterfaces() throws
 *   and loadConfig() cannot pick SIP_PUBLIC_IP by itself (it works when SIP_PUBLIC_IP is set). So the
 *   unit allows AF_NETLINK.
 */
import { expect, test } from "bun:test";
import { resolve } from "node:path";

const HELPER = resolve(import.meta.dir, "sandbox-exec.ts");
const CONFIG = resolve(import.meta.dir, "../../src/cli/config.ts");

function run(flags: string[], script: string, env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const cmd = flags.length ? [process.execPath, HELPER, ...flags, "--", process.execPath, "-e", script] : [process.execPath, "-e", script];
  const r = Bun.spawnSync({ cmd, stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env } });
  return { code: r.exitCode, out: r.stdout.toString().trim(), err: r.stderr.toString() };
}

const JIT_PROBE = `
const t = performance.now();
let s = 0;
for (let i = 0; i < 4e7; i++) s += i % 7;
const rwx = require("fs").readFileSync("/proc/self/maps", "utf8").split("\\n").filter((l) => / rwxp /.test(l)).length;
console.log(JSON.stringify({ ms: performance.now() - t, rwx, s }));
`;

test("MemoryDenyWriteExecute would switch off Bun's JIT: no rwx mapping, several times slower", () => {
  const free = run([], JIT_PROBE);
  const mdwe = run(["--mdwe"], JIT_PROBE);
  expect(free.code).toBe(0);
  expect(mdwe.err).not.toContain("sandbox-exec:"); // the prctl itself worked (Linux ≥ 6.3)
  expect(mdwe.code).toBe(0); // no crash: JSC falls back to its interpreter
  const a = JSON.parse(free.out) as { ms: number; rwx: number; s: number };
  const b = JSON.parse(mdwe.out) as { ms: number; rwx: number; s: number };
  expect(b.s).toBe(a.s);
  expect(a.rwx).toBeGreaterThanOrEqual(1);
  expect(b.rwx).toBe(0);
  console.log(`sandbox: hot loop ${a.ms.toFixed(0)} ms with JIT, ${b.ms.toFixed(0)} ms under MDWE (×${(b.ms / a.ms).toFixed(1)})`);
  expect(b.ms / a.ms).toBeGreaterThan(3);
});

const CONFIG_PROBE = `
const { loadConfig } = await import(${JSON.stringify(CONFIG)});
try { console.log(JSON.stringify({ ok: loadConfig(process.env).publicIp })); }
catch (e) { console.log(JSON.stringify({ error: String(e.message) })); }
`;

test("without AF_NETLINK, SIP_PUBLIC_IP can no longer be detected (so the unit allows it)", () => {
  const base = { SIP_HOST: "0.0.0.0" };
  const allowed = JSON.parse(run([], CONFIG_PROBE, base).out) as { ok?: string; error?: string };
  expect(allowed.error).toBeUndefined();
  expect(allowed.ok).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

  const denied = JSON.parse(run(["--deny-netlink"], CONFIG_PROBE, base).out) as { ok?: string; error?: string };
  expect(denied.ok).toBeUndefined();
  expect(denied.error).toContain("getifaddrs");

  const explicit = JSON.parse(run(["--deny-netlink"], CONFIG_PROBE, { ...base, SIP_PUBLIC_IP: "203.0.113.7" }).out) as { ok?: string };
  expect(explicit.ok).toBe("203.0.113.7");
});
