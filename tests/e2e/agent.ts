/**
 * Starts the real agent for end-to-end tests: the compiled binary `dist/voice-agent` (built first if
 * missing), or `bun run src/cli/main.ts` with `VOICE_AGENT_E2E=source`. Ports are free ones picked
 * per instance, the data directory and TMPDIR are private (so a test can check what this agent left in
 * its temporary folder without counting other processes' files in /tmp), and the process group is
 * killed on stop.
 */
import { expect } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeTcpPort, freeUdpPort, freeUdpPortRange, reserveUdpPortRange } from "../support/ports.ts";
import { spawnManaged, type ManagedProcess } from "../support/process.ts";

export const BINARY = "dist/voice-agent";

let built: Promise<void> | null = null;

/** Builds dist/voice-agent once per test process when it is missing. */
export function ensureBinary(): Promise<void> {
  if (existsSync(BINARY)) return Promise.resolve();
  built ??= (async () => {
    const p = Bun.spawn(["bun", "run", "build"], { stdout: "pipe", stderr: "pipe" });
    const code = await p.exited;
    if (code !== 0) throw new Error(`bun run build failed (${code}): ${await new Response(p.stderr).text()}`);
  })();
  return built;
}

export interface RunningAgent {
  proc: ManagedProcess;
  sipPort: number;
  httpPort: number;
  rtpStart: number;
  rtpEnd: number;
  dataDir: string;
  /** The agent's own TMPDIR (a fresh directory; removed on stop). */
  tmpDir: string;
  /** GET on the agent's HTTP API, parsed JSON. */
  get<T = any>(path: string): Promise<T>;
  /** Lines of the JSON log parsed so far. */
  logs(): any[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * @param opts.binary another compiled agent to run instead of dist/voice-agent (bench:load --compare:
 *   the "before" binary of a before/after measured back to back).
 */
export async function startAgent(
  env: Record<string, string> = {},
  args: string[] = ["--mode", "inbound"],
  opts: { binary?: string } = {},
): Promise<RunningAgent> {
  const fromSource = process.env.VOICE_AGENT_E2E === "source" && !opts.binary;
  if (!fromSource && !opts.binary) await ensureBinary();
  // A port picked free can be bound by another process before the agent binds it (other tests on the
  // machine, or another agent of the same file probing its RTP range): the agent then stops at start
  // ("SIP_PORT: cannot bind udp …: EADDRINUSE"). That is the harness's race, not the agent's fault: start
  // again on fresh ports, unless the caller chose the ports.
  const pinned = ["SIP_PORT", "SERVER_PORT", "RTP_PORT_START"].some((k) => k in env);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startAgentOnce(env, args, opts, fromSource);
    } catch (err) {
      const msg = String((err as Error)?.message ?? err);
      if (pinned || attempt >= START_ATTEMPTS || !PORT_TAKEN.test(msg)) throw err;
      console.warn(`startAgent: a picked port was taken before the agent bound it; starting again on fresh ports (attempt ${attempt + 1})\n${msg.split("\n").find((l) => PORT_TAKEN.test(l))}`);
    }
  }
}

/** How long stop() waits after its signal before SIGKILL, ms. */
const STOP_GRACE_MS = 8000;

/** Start-up failures that mean a port picked free was taken meanwhile (src/cli: SIP listeners, HTTP listen). */
const PORT_TAKEN = /(SIP_PORT|SERVER_PORT)\b[^\n]*(cannot bind|cannot listen)/;
const START_ATTEMPTS = 3;

async function startAgentOnce(
  env: Record<string, string>,
  args: string[],
  opts: { binary?: string },
  fromSource: boolean,
): Promise<RunningAgent> {
  const sipPort = await freeUdpPort();
  const httpPort = await freeTcpPort();
  const rtpStart = await freeUdpPortRange(40);
  const rtpEnd = rtpStart + 39;
  // The agent binds only the ports its calls lease: without this, a SIPp media port chosen later could fall
  // inside the range and its packets be counted as the agent's (operate.test once saw 3 agent → caller streams).
  const releaseRtp = reserveUdpPortRange(rtpStart, 40);
  const dataDir = mkdtempSync(join(tmpdir(), "va-e2e-data-"));
  const tmpDir = mkdtempSync(join(tmpdir(), "va-e2e-tmp-"));
  const argv = fromSource ? ["bun", "run", "src/cli/main.ts", ...args] : [opts.binary ?? BINARY, ...args];
  const proc = spawnManaged(argv, {
    name: "voice-agent",
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: tmpDir,
      SIP_HOST: "127.0.0.1",
      SIP_PORT: String(sipPort),
      SERVER_HOST: "127.0.0.1",
      SERVER_PORT: String(httpPort),
      RTP_PORT_START: String(rtpStart),
      RTP_PORT_END: String(rtpEnd),
      DATA_DIR: dataDir,
      LOG_LEVEL: "info",
      // `MEDIA_WORKER=on bun test tests/e2e/…` runs a file with the media worker (src/rtp/worker/).
      ...(process.env.MEDIA_WORKER ? { MEDIA_WORKER: process.env.MEDIA_WORKER } : {}),
      // `RTP_SILENCE_SUPPRESSION=on bun test tests/e2e/…` likewise (src/rtp/silence-suppression.ts).
      ...(process.env.RTP_SILENCE_SUPPRESSION ? { RTP_SILENCE_SUPPRESSION: process.env.RTP_SILENCE_SUPPRESSION } : {}),
      ...env,
    },
  });
  try {
    await proc.waitForLine(/"voice-agent started"/, { timeoutMs: 30_000 });
  } catch (err) {
    await proc.stop({ signal: "SIGKILL", graceMs: 1000 }).catch(() => undefined);
    releaseRtp();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(tmpDir, { recursive: true, force: true });
    throw err;
  }
  const base = `http://127.0.0.1:${httpPort}`;
  return {
    proc,
    sipPort,
    httpPort,
    rtpStart,
    rtpEnd,
    dataDir,
    tmpDir,
    async get(path) {
      const res = await fetch(base + path, { headers: env.API_TOKEN ? { authorization: `Bearer ${env.API_TOKEN}` } : {} });
      return (await res.json()) as any;
    },
    logs() {
      return proc
        .stdout()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => {
          try {
            return JSON.parse(l);
          } catch {
            return null;
          }
        })
        .filter(Boolean);
    },
    async stop(signal = "SIGTERM") {
      const t0 = performance.now();
      const code = await proc.stop({ signal, graceMs: STOP_GRACE_MS });
      // SIGTERM lets live calls go on for DRAIN_TIMEOUT_S (30 s unless set): a call the test left up makes
      // the stop wait out the whole grace, 8 s of the suite's time per agent. Said, so it can be mended.
      const ms = performance.now() - t0;
      if (ms > STOP_GRACE_MS - 500) console.warn(`startAgent: the agent took ${Math.round(ms)} ms to stop (exit ${code}): a call left up at the stop? (hang it up first)`);
      releaseRtp();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(tmpDir, { recursive: true, force: true });
      return code;
    },
  };
}

/**
 * Runs the compiled binary with `env` (and PATH) and asserts it refuses to start, naming `variable` in
 * what it prints: the start-up check every validated setting gets (a bad value never starts an agent).
 */
export async function expectStartupError(env: Record<string, string>, variable: string): Promise<void> {
  await ensureBinary();
  const p = Bun.spawnSync([BINARY, "--mode", "inbound"], { env: { PATH: process.env.PATH ?? "", ...env }, stderr: "pipe", stdout: "pipe", timeout: 20_000 });
  expect(p.exitCode).not.toBe(0);
  expect(p.stderr.toString() + p.stdout.toString()).toContain(variable);
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(fn: () => Promise<T> | T, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last as NonNullable<T>;
    await Bun.sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}
