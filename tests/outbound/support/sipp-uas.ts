/**
 * SIPp (3.6.1) as a UAS: it plays the SIP trunk for the agent's outbound calls.
 *
 * `startSippUas` spawns `sipp -sf SCENARIO -m CALLS` in its own process group (tests/support/process.ts),
 * waits until its SIP port is bound (so the first INVITE is not lost), and `finish()` waits for it to
 * exit (bounded), then parses the `-trace_msg` log with tests/support/sipp.ts.
 * Exit code 0: every call went through the scenario; 1: a call failed (e.g. a wrong digest → 403).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnManaged, type ManagedProcess } from "../../support/process.ts";
import { freeUdpPort, freeUdpPortRange, waitUdpPortBound, LOOPBACK } from "../../support/ports.ts";
import { parseSippMessageLog, scenarioPath, type SippMessage } from "../../support/sipp.ts";

export interface SippUasOptions {
  /** Scenario name under tests/scenarios ("outbound-trunk-auth") or a path. */
  scenario: string;
  /** Calls to take before exiting (-m). Default 1. */
  calls?: number;
  /** `<pause/>` duration, ms (-d). Default 1000. */
  pauseMs?: number;
  keys?: Record<string, string>;
  /** Raw μ-law file streamed after the answer (key `audio`, played once, PT 0). */
  audioFile?: string;
  /** SIP port to listen on (default a free one): the agent's SIP_TRUNK_PORT. */
  port?: number;
}

export interface SippUas {
  /** SIP port SIPp listens on (127.0.0.1). */
  port: number;
  mediaPort: number;
  proc: ManagedProcess;
  /** Waits for SIPp to exit (killing it after `timeoutMs`); returns its exit code and the message trace. */
  finish(timeoutMs: number): Promise<{ exitCode: number | null; timedOut: boolean; messages: SippMessage[]; errors: string; stderr: string }>;
}

export async function startSippUas(o: SippUasOptions): Promise<SippUas> {
  const port = o.port ?? (await freeUdpPort());
  const mediaPort = await freeUdpPortRange(4 * (o.calls ?? 1) + 4);
  const dir = mkdtempSync(join(tmpdir(), "sipp-uas-"));
  const msgFile = join(dir, "messages.log");
  const errFile = join(dir, "errors.log");
  const argv = [
    "sipp",
    "-sf",
    scenarioPath(o.scenario),
    "-i",
    LOOPBACK,
    "-mi",
    LOOPBACK,
    "-p",
    String(port),
    "-mp",
    String(mediaPort),
    "-m",
    String(o.calls ?? 1),
    "-d",
    String(o.pauseMs ?? 1000),
    "-nostdin",
    "-trace_msg",
    "-message_file",
    msgFile,
    "-trace_err",
    "-error_file",
    errFile,
  ];
  const keys: Record<string, string> = { ...(o.keys ?? {}) };
  if (o.audioFile) keys.audio = `${o.audioFile},1,0`;
  for (const [k, v] of Object.entries(keys)) argv.push("-key", k, v);
  const proc = spawnManaged(argv, { cwd: dir, name: `sipp-uas ${o.scenario}` });
  // Ready when its SIP socket is bound (SIPp prints nothing useful with -nostdin).
  await waitUdpPortBound(port, { name: "sipp", running: () => proc.running, detail: () => proc.stderr() });
  return {
    port,
    mediaPort,
    proc,
    async finish(timeoutMs) {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        void proc.stop({ signal: "SIGKILL", graceMs: 0 });
      }, timeoutMs);
      const exitCode = await proc.exited;
      clearTimeout(timer);
      const messages = existsSync(msgFile) ? parseSippMessageLog(readFileSync(msgFile, "utf8")) : [];
      const errors = existsSync(errFile) ? readFileSync(errFile, "utf8") : "";
      rmSync(dir, { recursive: true, force: true });
      return { exitCode, timedOut, messages, errors, stderr: proc.stderr() };
    },
  };
}

/** ">> INVITE" / "<< 401" lines of a trace, for assertion messages and flow checks. */
export function flowOf(messages: SippMessage[]): string[] {
  return messages.map((m) => `${m.direction === "sent" ? ">>" : "<<"} ${m.method ?? m.status}`);
}
