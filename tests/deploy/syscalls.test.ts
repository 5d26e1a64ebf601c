/**
 * The unit's SystemCallFilter= lets through every system call the agent makes.
 *
 * The binary runs as `nobody` under `strace -f -c` (children included: the offline speech recogniser is a separate
 * program and inherits the filter) while it starts, answers OPTIONS, takes a SIPp call with audio both
 * ways and stops on SIGTERM. The set of system calls seen must be inside the unit's effective filter:
 * the allow-list lines of scripts/deploy/voice-agent.service minus its `~` deny-list lines, each group
 * expanded (nested groups included) by `systemd-analyze syscall-filter` of the systemd installed here.
 * A call outside it would fail with EPERM under systemd (SystemCallErrorNumber=EPERM).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freeTcpPort, freeUdpPort, freeUdpPortRange, LOOPBACK } from "../support/ports.ts";
import { spawnManaged, stopAllManaged } from "../support/process.ts";
import { describeSipp, runSipp } from "../support/sipp.ts";

const REPO = resolve(import.meta.dir, "../..");
const BINARY = process.env.VOICE_AGENT_BINARY ?? join(REPO, "dist/voice-agent");
const UNIT = readFileSync(join(REPO, "scripts/deploy/voice-agent.service"), "utf8");
let work = "";

const groupCache = new Map<string, string[]>();
/** Members of a syscall name or @group, nested groups expanded. */
function expand(item: string): string[] {
  if (!item.startsWith("@")) return [item];
  const cached = groupCache.get(item);
  if (cached) return cached;
  const r = Bun.spawnSync({ cmd: ["systemd-analyze", "syscall-filter", item], stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`systemd-analyze syscall-filter ${item}: ${r.stderr}`);
  const lines = r.stdout.toString().split("\n").slice(1).map((l) => l.trim());
  const out = lines.filter((l) => l !== "" && !l.startsWith("#")).flatMap(expand);
  groupCache.set(item, out);
  return out;
}

/**
 * The unit's effective allow set, its lines applied in order (systemd.exec(5): the first line sets the
 * default action, "the next occurrences of this option will add or delete the listed system calls from
 * the set"): allow lines add, `~` lines remove.
 */
function effectiveFilter(unit: string): Set<string> {
  const allow = new Set<string>();
  for (const line of unit.split("\n")) {
    const m = /^SystemCallFilter=(~?)(.*)$/.exec(line.trim());
    if (!m) continue;
    for (const item of m[2]!.split(/\s+/).filter(Boolean)) for (const s of expand(item)) m[1] ? allow.delete(s) : allow.add(s);
  }
  return allow;
}

beforeAll(() => {
  for (const tool of ["strace", "systemd-analyze", "sipp", "flite", "sox"]) {
    if (!Bun.which(tool)) throw new Error(`${tool} not found (apt-get install ${tool === "systemd-analyze" ? "systemd" : tool})`);
  }
  if (process.env.VOICE_AGENT_BINARY && !existsSync(BINARY)) throw new Error(`VOICE_AGENT_BINARY=${BINARY} does not exist`);
  if (!existsSync(BINARY)) {
    const b = Bun.spawnSync({ cmd: [process.execPath, "run", "build"], cwd: REPO, stdout: "pipe", stderr: "pipe", timeout: 240_000 });
    if (b.exitCode !== 0) throw new Error(`bun run build failed:\n${(b.stdout.toString() + b.stderr.toString()).slice(-3000)}`);
  }
  work = mkdtempSync(join(tmpdir(), "va-syscalls-"));
  chmodSync(work, 0o777); // the agent runs as nobody and writes TMPDIR and DATA_DIR here
}, 300_000);

afterAll(async () => {
  await stopAllManaged(2000);
  if (work) Bun.spawnSync({ cmd: ["rm", "-rf", "--one-file-system", work] });
});

test("the effective filter is what we think: basics in, privileged and resource calls out", () => {
  const f = effectiveFilter(UNIT);
  for (const s of ["read", "sendto", "recvfrom", "epoll_wait", "mmap", "clone", "execve", "prlimit64"]) expect(f.has(s), s).toBe(true);
  for (const s of ["mount", "setrlimit", "sched_setaffinity", "sched_setscheduler", "ptrace", "reboot", "init_module", "swapon"]) expect(f.has(s), s).toBe(false);
  // The two the README's knobs need (RUNTIME_THREADS_NICE, MEDIA_WORKER_CALL_NICE, MEDIA_WORKER_SLICE_US): added back.
  for (const s of ["setpriority", "sched_setattr"]) expect(f.has(s), s).toBe(true);
  expect(effectiveFilter(readFileSync(join(REPO, "scripts/deploy/voice-agent@.service"), "utf8"))).toEqual(f);
});

test("every system call of start-up, OPTIONS, a SIPp call and SIGTERM is allowed by the unit", async () => {
  const sipPort = await freeUdpPort();
  const httpPort = await freeTcpPort();
  const rtpStart = await freeUdpPortRange(20);
  const traceFile = join(work, "strace.txt");
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: work,
    TMPDIR: work,
    DATA_DIR: join(work, "data"),
    SIP_HOST: LOOPBACK,
    SIP_PORT: String(sipPort),
    SIP_PUBLIC_IP: LOOPBACK,
    SERVER_HOST: LOOPBACK,
    SERVER_PORT: String(httpPort),
    RTP_PORT_START: String(rtpStart),
    RTP_PORT_END: String(rtpStart + 19),
    LOG_LEVEL: "info",
  };
  // strace writes its table when the traced agent has exited.
  // `-u nobody`: strace runs the agent as an unprivileged user, as DynamicUser= does. As root the run
  // differs: SQLite then fchown()s its journal files to the database owner (os_unix.c, only when
  // geteuid() == 0), and fchown is in @privileged, which the unit denies.
  const agent = spawnManaged(["strace", "-f", "-qq", "-c", "-u", "nobody", "-o", traceFile, BINARY, "--mode", "inbound"], {
    env,
    cwd: work,
    name: "voice-agent (strace)",
  });
  await agent.waitForLine(/voice-agent started/, { timeoutMs: 20_000 });

  const wav = join(work, "caller.wav");
  const ulaw = join(work, "caller.ulaw");
  expect(Bun.spawnSync({ cmd: ["flite", "-voice", "slt", "-t", "hello there", "-o", wav] }).exitCode).toBe(0);
  expect(Bun.spawnSync({ cmd: ["sox", wav, "-r", "8000", "-c", "1", "-e", "u-law", "-t", "raw", ulaw, "pad", "0.2", "0.5"] }).exitCode).toBe(0);
  const options = await runSipp({ scenario: "options", target: { host: LOOPBACK, port: sipPort }, timeoutMs: 10_000 });
  expect(options.exitCode, describeSipp(options)).toBe(0);
  const call = await runSipp({ scenario: "inbound-call", target: { host: LOOPBACK, port: sipPort }, audioFile: ulaw, pauseMs: 4000, timeoutMs: 25_000 });
  expect(call.exitCode, describeSipp(call)).toBe(0);

  // SIGTERM to the agent only (strace's child); strace then exits with the agent's status.
  const child = Number(readFileSync(`/proc/${agent.pid}/task/${agent.pid}/children`, "utf8").trim().split(" ")[0]);
  expect(child).toBeGreaterThan(0);
  process.kill(child, "SIGTERM");
  expect(await agent.exited).toBe(0);
  expect(agent.stdout()).toContain('"msg":"call answered"');

  // strace -c table: "% time  seconds  usecs/call  calls  errors  syscall", then a dashed line and "total".
  const used = readFileSync(traceFile, "utf8")
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((cols) => cols.length >= 5 && /^\d/.test(cols[0]!) && cols.at(-1) !== "total")
    .map((cols) => cols.at(-1)!);
  expect(used.length).toBeGreaterThan(30);
  const allowed = effectiveFilter(UNIT);
  const outside = [...new Set(used)].filter((s) => !allowed.has(s)).sort();
  console.log(`syscalls: ${new Set(used).size} distinct system calls seen, all inside the unit's filter of ${allowed.size}`);
  expect(outside).toEqual([]);
}, 90_000);
