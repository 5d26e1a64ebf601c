/**
 * A fleet on loopback: N compiled agents (cloud providers are the local protocol fakes, so a call costs
 * no recognition CPU) behind Kamailio 5.6 running the shipped deploy/kamailio/kamailio.cfg, its values
 * set with `-A` (listen address, dispatcher.list, 1 s probes). Used by tests/fleet/balancer.test.ts and
 * `bun run bench:fleet` (scripts/bench-fleet.ts).
 *
 *   const fleet = await startFleet({ agents: 3, maxCalls: 20 });
 *   runSipp({ scenario: "soak-call", target: `127.0.0.1:${fleet.port}`, … });
 *   fleet.dispatches()        // [{ callId, agent: index, failover }] from Kamailio's log
 *   await fleet.kill(2); await fleet.restart(2);
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startAgent, type RunningAgent } from "../e2e/agent.ts";
import { startCloudFakes, repeatLine, type CloudFakes } from "../e2e/cloud-support.ts";
import { freeTcpPort, freeUdpPort, freeUdpPortRange, waitUdpPortBound } from "../support/ports.ts";
import { spawnManaged, type ManagedProcess } from "../support/process.ts";

export const KAMAILIO_CFG = resolve(import.meta.dir, "../../deploy/kamailio/kamailio.cfg");

/** One agent's fixed ports and data directory, kept across restarts. */
export interface AgentSlot {
  index: number;
  sipPort: number;
  httpPort: number;
  rtpStart: number;
  rtpEnd: number;
  dataDir: string;
  uri: string;
  agent: RunningAgent | null;
}

export interface Dispatch {
  callId: string;
  /** Index of the agent the call was sent to. */
  agent: number;
  failover: boolean;
  /** Position in Kamailio's log (order of events). */
  at: number;
}

export interface Fleet {
  /** Kamailio's SIP port (UDP, 127.0.0.1). */
  port: number;
  slots: AgentSlot[];
  kamailio: ManagedProcess;
  fakes: CloudFakes;
  /** Every routing decision Kamailio logged, in order. */
  dispatches(): Dispatch[];
  /** Position in the log now (to split events before/after a moment). */
  mark(): number;
  /** `kamcmd dispatcher.list` flags per agent index (e.g. "AP" active+probing, "IP" inactive+probing). */
  flags(): Promise<Map<number, string>>;
  /** GET on agent i's HTTP API (its fixed SERVER_PORT), parsed JSON. */
  get(i: number, path: string): Promise<any>;
  kill(i: number, signal?: NodeJS.Signals): Promise<number | null>;
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

export interface FleetOptions {
  agents: number;
  /** MAX_CALLS of each agent, also its maxload= in dispatcher.list. */
  maxCalls: number;
  /** Seconds between Kamailio's OPTIONS probes (DS_PING_INTERVAL). Default 1. */
  pingIntervalS?: number;
  /** More agent environment. */
  env?: Record<string, string>;
}

export async function startFleet(o: FleetOptions): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), "va-fleet-"));
  const fakes = startCloudFakes({ script: repeatLine("hello", 2000) });
  const env = (slot: AgentSlot) =>
    fakes.env({
      SIP_PORT: String(slot.sipPort),
      SERVER_PORT: String(slot.httpPort),
      RTP_PORT_START: String(slot.rtpStart),
      RTP_PORT_END: String(slot.rtpEnd),
      DATA_DIR: slot.dataDir,
      AGENT_ID: `agent${slot.index}`,
      MAX_CALLS: String(o.maxCalls),
      SIP_RATE_LIMIT: "0",
      DRAIN_TIMEOUT_S: "30",
      ...o.env,
    });
  const slots: AgentSlot[] = [];
  for (let i = 0; i < o.agents; i++) {
    const sipPort = await freeUdpPort();
    const rtpStart = await freeUdpPortRange(Math.max(40, o.maxCalls * 2 + 4));
    const slot: AgentSlot = {
      index: i,
      sipPort,
      httpPort: await freeTcpPort(),
      rtpStart,
      rtpEnd: rtpStart + Math.max(40, o.maxCalls * 2 + 4) - 1,
      dataDir: mkdtempSync(join(dir, `agent${i}-`)),
      uri: `sip:127.0.0.1:${sipPort}`,
      agent: null,
    };
    slots.push(slot);
  }
  await Promise.all(slots.map(async (s) => (s.agent = await startAgent(env(s)))));

  const list = join(dir, "dispatcher.list");
  writeFileSync(list, slots.map((s) => `1 ${s.uri} 8 0 duid=agent${s.index};maxload=${o.maxCalls}\n`).join(""));
  const port = await freeUdpPort();
  const ctl = join(dir, "kamailio_ctl");
  const run = join(dir, "run");
  Bun.spawnSync(["mkdir", "-p", run]);
  const kamailio = spawnManaged(
    [
      "kamailio",
      "-f",
      KAMAILIO_CFG,
      "-DD",
      "-E",
      "-Y",
      run,
      "-P",
      join(run, "k.pid"),
      "-A",
      `LISTEN=udp:127.0.0.1:${port}`,
      "-A",
      `DS_LIST="${list}"`,
      "-A",
      `CTL_SOCKET="unix:${ctl}"`,
      "-A",
      `DS_PING_INTERVAL=${o.pingIntervalS ?? 1}`,
      "-A",
      "DS_INACTIVE_THRESHOLD=1",
    ],
    { cwd: dir, name: "kamailio" },
  );
  await waitUdpPortBound(port, { name: "kamailio", running: () => kamailio.running, detail: () => kamailio.stderr().slice(-3000), timeoutMs: 10_000, pollMs: 20 });
  const log = () => kamailio.stderr() + kamailio.stdout();
  const byUri = (uri: string) => slots.findIndex((s) => s.uri === uri || uri.startsWith(`${s.uri};`));

  const fleet: Fleet = {
    port,
    slots,
    kamailio,
    fakes,
    dispatches() {
      return [...log().matchAll(/dispatch call (\S+) to (sip:\S+?)( \(failover\))?\n/g)].map((m) => ({
        callId: m[1]!,
        agent: byUri(m[2]!),
        failover: !!m[3],
        at: m.index!,
      }));
    },
    mark: () => log().length,
    async flags() {
      const p = Bun.spawnSync(["kamcmd", "-s", `unix:${ctl}`, "dispatcher.list"], { stdout: "pipe", stderr: "pipe" });
      const text = p.stdout.toString();
      const out = new Map<number, string>();
      for (const m of text.matchAll(/URI: (sip:\S+)\s+FLAGS: (\S+)/g)) out.set(byUri(m[1]!), m[2]!);
      return out;
    },
    async get(i, path) {
      return await (await fetch(`http://127.0.0.1:${slots[i]!.httpPort}${path}`)).json();
    },
    async kill(i, signal = "SIGKILL") {
      const a = slots[i]!.agent!;
      slots[i]!.agent = null;
      a.proc.signal(signal);
      return await a.proc.exited;
    },
    async restart(i) {
      const s = slots[i]!;
      s.agent = await startAgent(env(s));
    },
    async stop() {
      await kamailio.stop({ graceMs: 1000 });
      await Promise.all(slots.map((s) => s.agent?.stop().catch(() => null)));
      await fakes.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fleet;
}

/** SIPp calls by Call-ID: whether each call completed (its BYE answered 200). */
export function callOutcomes(messages: { direction: string; method?: string; status?: number; text: string }[]): Map<string, { ok: boolean; finals: number[] }> {
  const out = new Map<string, { ok: boolean; finals: number[] }>();
  for (const m of messages) {
    const callId = /^Call-ID:\s*(\S+)/im.exec(m.text)?.[1];
    if (!callId) continue;
    const o = out.get(callId) ?? { ok: false, finals: [] };
    out.set(callId, o);
    if (m.direction !== "received" || m.status === undefined || m.status < 200) continue;
    const method = /^CSeq:\s*\d+\s+(\S+)/im.exec(m.text)?.[1];
    if (method === "INVITE") o.finals.push(m.status);
    if (method === "BYE" && m.status === 200) o.ok = true;
  }
  return out;
}
