/**
 * Forged INVITEs never ACKed must not close the compiled agent to real callers (src/call/unconfirmed.ts).
 * Before: with MAX_CALLS=4, four such datagrams from four addresses got every later INVITE and OPTIONS
 * 503 for 64·T1 (32 s).
 *
 * Agent: MAX_CALLS=4 (the offline default), SIP_T1_MS=150, so the ACK grace is 8·T1 = 1.2 s.
 * - 6 INVITEs from 6 addresses 127.0.0.41–46 (one each, under the per-source cap), never ACKed: 4 are
 *   answered 200, 2 get 503 with a Retry-After of at most 2 s (the grace, not Timer H);
 * - an OPTIONS right after: 200 (calls awaiting their ACK do not make the agent read "full");
 *   voice_agent_unconfirmed_calls 4;
 * - 1.2 s after the last 200, a real SIPp caller from 127.0.0.47 gets 200, ACKs, plays audio, hangs up:
 *   exit 0, its record connected and ended remote_bye; the oldest forged call was given up for it
 *   (calls_total{result="ack_given_up"}), and no forged address got more than one BYE.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { startAgent, type RunningAgent } from "./agent.ts";
import { metricValue, sipRequest } from "./attack-support.ts";

const hasSipp = !!Bun.which("sipp");
const T1_MS = 150;
const GRACE_MS = 8 * T1_MS;
let agent: RunningAgent | undefined;
const sockets: { close(): void }[] = [];
afterAll(async () => {
  for (const s of sockets) s.close();
  await agent?.stop();
}, 20_000);

interface Seen {
  finals: { status: number; retryAfter?: string; at: number }[];
  byes: number;
}

/** A UDP socket on `host` that records the final responses and the BYEs it gets (it never answers or ACKs). */
async function forgedSource(host: string): Promise<{ seen: Seen; send(text: string, port: number): void; port: number }> {
  const seen: Seen = { finals: [], byes: 0 };
  const dec = new TextDecoder();
  const sock = await Bun.udpSocket({
    hostname: host,
    port: 0,
    socket: {
      data(_s, buf) {
        const text = dec.decode(buf);
        if (text.startsWith("BYE ")) seen.byes++;
        const status = Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1]);
        if (status >= 200 && /^CSeq:\s*\d+ (INVITE|OPTIONS)/im.test(text) && !seen.finals.some((f) => f.status === status))
          seen.finals.push({ status, retryAfter: /^Retry-After:\s*(\S+)/im.exec(text)?.[1], at: Date.now() });
      },
    },
  });
  sockets.push(sock);
  return { seen, port: sock.port, send: (text, port) => void sock.send(text, port, "127.0.0.1") };
}

describe.skipIf(!hasSipp)("INVITEs never ACKed from many addresses (compiled agent)", () => {
  test(
    "delay a real caller by the ACK grace at most; OPTIONS stays 200; each forged address gets at most one BYE",
    async () => {
      // DRAIN_TIMEOUT_S 0: the calls this test leaves unconfirmed would hold the agent's stop at the end (SIGTERM
      // lets live calls go on for the drain, 30 s by default) for its whole 8 s grace; the drain is not tested here.
      agent = await startAgent({ MAX_CALLS: "4", SIP_T1_MS: String(T1_MS), IDLE_PROMPT_S: "3600", DRAIN_TIMEOUT_S: "0" });
      const target = { host: "127.0.0.1", port: agent.sipPort };
      const forged = await Promise.all([41, 42, 43, 44, 45, 46].map((n) => forgedSource(`127.0.0.${n}`)));
      for (const [i, f] of forged.entries()) {
        f.send(sipRequest("INVITE", { to: target, from: { host: `127.0.0.${41 + i}`, port: f.port } }), target.port);
        await Bun.sleep(30);
      }
      const deadline = Date.now() + 5000;
      while (forged.some((f) => f.seen.finals.length === 0) && Date.now() < deadline) await Bun.sleep(20);
      const finals = forged.map((f) => f.seen.finals[0]?.status);
      expect(finals.toSorted()).toEqual([200, 200, 200, 200, 503, 503]);
      for (const f of forged) {
        const first = f.seen.finals[0]!;
        if (first.status === 503) expect(Number(first.retryAfter)).toBeLessThanOrEqual(Math.ceil(GRACE_MS / 1000) + 1);
      }
      const lastOkAt = Math.max(...forged.flatMap((f) => f.seen.finals.filter((x) => x.status === 200).map((x) => x.at)));

      // A probe while every place awaits an ACK: 200, not 503.
      const probe = await forgedSource("127.0.0.48");
      probe.send(sipRequest("OPTIONS", { to: target, from: { host: "127.0.0.48", port: probe.port } }), target.port);
      const probeDeadline = Date.now() + 3000;
      while (probe.seen.finals.length === 0 && Date.now() < probeDeadline) await Bun.sleep(20);
      expect(probe.seen.finals.map((f) => f.status)).toEqual([200]);
      const before = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
      expect(metricValue(before, "voice_agent_unconfirmed_calls")).toBe(4);
      expect((await fetch(`http://127.0.0.1:${agent.httpPort}/health/ready`)).status).toBe(200);

      // The real caller, once the oldest forged 200 is past the grace (well inside Timer H = 9.6 s here).
      await Bun.sleep(Math.max(0, lastOkAt + GRACE_MS + 100 - Date.now()));
      const real = await runSipp({ scenario: "inbound-call", target, localIp: "127.0.0.47", audioFile: silenceFile(1), pauseMs: 1500, timeoutMs: 20_000 });
      expect(real.exitCode, describeSipp(real)).toBe(0);
      const after = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
      expect(metricValue(after, "voice_agent_calls_total", { direction: "inbound", result: "ack_given_up" })).toBeGreaterThanOrEqual(1);
      const calls = await agent.get("/calls");
      const mine = calls.recent.find((c: any) => c.endReason === "remote_bye");
      expect(mine, JSON.stringify(calls.recent.map((c: any) => c.endReason))).toBeDefined();
      expect(agent.logs().some((l) => l.msg === "call answered" && l.callId === mine.id)).toBe(true);
      // Reflection: a forged address got our 100/200s for its one INVITE, and at most one BYE, never a retransmitted one.
      await Bun.sleep(4 * T1_MS);
      for (const f of forged) expect(f.seen.byes).toBeLessThanOrEqual(1);
      expect(forged.reduce((n, f) => n + f.seen.byes, 0)).toBeGreaterThanOrEqual(1);
    },
    40_000,
  );
});
