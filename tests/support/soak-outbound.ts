/**
 * The outbound side of bench:soak: N outbound calls placed through the compiled agent's HTTP API
 * (`POST /outbound/call`, `concurrency` at a time), SIPp as the trunk (tests/scenarios/soak-outbound.xml:
 * 180, 200, then BYE from the callee after `callMs`). What the agent holds is read after its idle
 * collection (IDLE_GC_S) once after the warm-up calls and once after the run: JS heap in use and RSS.
 * With IDLE_GC_S below 32 the collection runs while the last calls' INVITE client transactions (Timer M,
 * 64·T1) still live, so whatever those transactions keep of an ended call shows in the JS heap.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent, waitFor, type RunningAgent } from "../e2e/agent.ts";
import { startSippUas } from "../outbound/support/sipp-uas.ts";
import { freeUdpPort } from "./ports.ts";
import { nextIdleCollection, snapshot, type IdleCollectionLine, type ProcessSnapshot } from "./soak.ts";

export interface OutboundSoakOptions {
  calls: number;
  concurrency: number;
  /** How long the callee stays on after the answer before its BYE, ms. */
  callMs: number;
  warmCalls: number;
  /** The agent's IDLE_GC_S. */
  idleGcS: number;
  /** Another compiled agent (a "before" build), default dist/voice-agent. */
  binary?: string;
  progress?: (line: string) => void;
}

export interface OutboundSoakResult {
  completed: number;
  failed: number;
  /** end_reason → calls (of the measured calls), e.g. { remote_bye: 298, … }. */
  reasons: Record<string, number>;
  elapsedMs: number;
  start: { idle: IdleCollectionLine; snap: ProcessSnapshot };
  end: { idle: IdleCollectionLine; snap: ProcessSnapshot };
  sippExit: number | null;
}

const CALL = { phone_number: "+14155550100", opening_reason: "about your order", objective: "Tell them it ships tomorrow." };

export async function runOutboundSoak(o: OutboundSoakOptions): Promise<OutboundSoakResult> {
  const say = o.progress ?? (() => {});
  const tempDir = mkdtempSync(join(tmpdir(), "va-soak-out-"));
  const trunkPort = await freeUdpPort();
  let agent: RunningAgent | undefined;
  try {
    agent = await startAgent(
      {
        SIP_TRUNK_HOST: "127.0.0.1",
        SIP_TRUNK_PORT: String(trunkPort),
        SIP_CALLER_ID: "+14155550123",
        SIP_RATE_LIMIT: "0",
        OUTBOUND_CALLS_PER_MINUTE: "100000",
        MAX_OUTBOUND_CALLS: String(Math.max(10, o.concurrency * 2)),
        MAX_CALLS: String(Math.max(10, o.concurrency * 2)),
        IDLE_GC_S: String(o.idleGcS),
        // A call SIPp leaves without its BYE (seen: ~1 in 10 under load) ends on the silence instead of 30 s later.
        RTP_TIMEOUT_S: "5",
        TMPDIR: tempDir,
      },
      ["--mode", "outbound"],
      { binary: o.binary },
    );
    const a = agent;
    const sipp = await startSippUas({ scenario: "soak-outbound", port: trunkPort, calls: o.warmCalls + o.calls, pauseMs: o.callMs });
    let completed = 0;
    let failed = 0;
    let reasons: Record<string, number> = {};
    const one = async () => {
      const res = await fetch(`http://127.0.0.1:${a.httpPort}/outbound/call`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(CALL) });
      if (res.status !== 201) throw new Error(`POST /outbound/call: ${res.status} ${await res.text()}`);
      const id = ((await res.json()) as { call_id: string }).call_id;
      const done = await waitFor(async () => {
        const c = await a.get(`/outbound/call/${id}`);
        return c.ended_at ? c : undefined;
      }, 60_000, `outbound call ${id} to end`);
      reasons[done.end_reason] = (reasons[done.end_reason] ?? 0) + 1;
      if (process.env.SOAK_DEBUG) say(JSON.stringify({ c: done.created_at, r: done.ringing_at, a: done.answered_at, e: done.ended_at, why: done.end_reason }));
      if (done.end_reason === "remote_bye") completed++;
      else failed++;
    };
    const run = async (n: number) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(o.concurrency, n) }, async () => {
          while (next < n) {
            next++;
            await one();
          }
        }),
      );
    };
    await run(o.warmCalls);
    say(`${o.warmCalls} warm-up calls done; waiting for the idle collection (IDLE_GC_S=${o.idleGcS})…`);
    const startIdle = await nextIdleCollection(a, 0, (o.idleGcS + 60) * 1000, 3000);
    const start = { idle: startIdle.line, snap: await snapshot(a, tempDir) };
    say(`start: ${JSON.stringify(start.idle)}`);
    completed = 0;
    failed = 0;
    reasons = {};
    const t0 = performance.now();
    await run(o.calls);
    const elapsedMs = performance.now() - t0;
    const mark = a.proc.stdout().length;
    say(`${o.calls} calls done in ${(elapsedMs / 1000).toFixed(1)} s; waiting for the idle collection…`);
    const endIdle = await nextIdleCollection(a, Math.max(startIdle.end, mark), (o.idleGcS + 60) * 1000, 3000);
    const end = { idle: endIdle.line, snap: await snapshot(a, tempDir) };
    say(`end: ${JSON.stringify(end.idle)}`);
    const r = await sipp.finish(10_000);
    return { completed, failed, reasons, elapsedMs, start, end, sippExit: r.exitCode };
  } finally {
    await agent?.stop();
    rmSync(tempDir, { recursive: true, force: true });
  }
}
