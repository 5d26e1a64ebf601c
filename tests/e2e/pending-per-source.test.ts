/**
 * INVITEs answered but never ACKed from one source must not fill MAX_CALLS (compiled agent, loopback).
 * Each such INVITE holds a call slot for Timer H (64·T1 = 32 s, RFC 3261 §13.3.1.4); an SBC caps the
 * unconfirmed calls one source may hold (SIP_MAX_PENDING_PER_SOURCE, never more than MAX_CALLS/2).
 *
 * - 127.0.0.11 sends 8 INVITEs with SDP and never ACKs: with MAX_CALLS=8 only 4 (= MAX_CALLS/2) are
 *   answered 200, the other 4 get 503 with Retry-After (before the cap all 8 were answered, the agent
 *   was full and /health/ready said so);
 * - /health/ready still says 200, and a real caller from 127.0.0.12 (SIPp, ACKs, talks, BYE) gets
 *   through;
 * - a trunk on 127.0.0.1 placing 12 calls at 10 calls/s, 3 at a time, all complete: a peer that ACKs
 *   within milliseconds never reaches its limit.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { startAgent, type RunningAgent } from "./agent.ts";
import { sipRequest } from "./attack-support.ts";

const hasSipp = !!Bun.which("sipp");
let agent: RunningAgent | undefined;
afterAll(async () => {
  await agent?.stop();
}, 20_000);

describe.skipIf(!hasSipp)("unconfirmed calls per source (compiled agent)", () => {
  test(
    "one source's never-ACKed INVITEs leave room for other callers; a trunk is unaffected",
    async () => {
      // DRAIN_TIMEOUT_S 0: the calls this test leaves unconfirmed would hold the agent's stop at the end (SIGTERM
      // lets live calls go on for the drain, 30 s by default) for its whole 8 s grace; the drain is not tested here.
      agent = await startAgent({ MAX_CALLS: "8", SIP_MAX_PENDING_PER_SOURCE: "10", IDLE_PROMPT_S: "3600", DRAIN_TIMEOUT_S: "0" });
      const target = { host: "127.0.0.1", port: agent.sipPort };
      const finals = new Map<string, { status: number; retryAfter?: string }>();
      const dec = new TextDecoder();
      const sock = await Bun.udpSocket({
        hostname: "127.0.0.11",
        port: 0,
        socket: {
          data(_s, buf) {
            const text = dec.decode(buf);
            const status = Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1]);
            const callId = /^Call-ID:\s*(\S+)/im.exec(text)?.[1];
            if (!callId || !(status >= 200)) return; // provisional, or a request (BYE after Timer H)
            finals.set(callId, { status, retryAfter: /^Retry-After:\s*(\S+)/im.exec(text)?.[1] });
          },
        },
      });
      try {
        const from = { host: "127.0.0.11", port: sock.port };
        for (let i = 0; i < 8; i++) {
          sock.send(sipRequest("INVITE", { to: target, from, callId: `unacked-${i}@127.0.0.11` }), target.port, target.host);
          await Bun.sleep(20);
        }
        const deadline = Date.now() + 8000;
        while (finals.size < 8 && Date.now() < deadline) await Bun.sleep(50);
        const statuses = [...finals.values()].map((f) => f.status).sort();
        expect(statuses).toEqual([200, 200, 200, 200, 503, 503, 503, 503]);
        for (const f of finals.values()) if (f.status === 503) expect(Number(f.retryAfter)).toBeGreaterThan(0);

        const ready = await fetch(`http://127.0.0.1:${agent.httpPort}/health/ready`);
        expect(ready.status).toBe(200);

        // A real caller from another source gets through while the 4 unACKed calls are held (32 s).
        const real = await runSipp({ scenario: "inbound-call", target, localIp: "127.0.0.12", audioFile: silenceFile(1), pauseMs: 500, timeoutMs: 20_000 });
        expect(real.exitCode, describeSipp(real)).toBe(0);

        // A trunk at 10 calls/s, 3 at a time, from its own address: every call completes.
        const trunk = await runSipp({
          scenario: "inbound-call",
          target,
          audioFile: silenceFile(1),
          pauseMs: 300,
          timeoutMs: 40_000,
          extraArgs: ["-m", "12", "-l", "3", "-r", "10"],
        });
        expect(trunk.exitCode, describeSipp(trunk)).toBe(0);
        const refused = agent.logs().filter((l) => l.msg === "call rejected: too many unconfirmed calls from this source");
        expect(refused.map((l) => l.source)).toEqual(["127.0.0.11", "127.0.0.11", "127.0.0.11", "127.0.0.11"]);
      } finally {
        sock.close();
      }
    },
    90_000,
  );
});
