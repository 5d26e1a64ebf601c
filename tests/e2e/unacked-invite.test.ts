/**
 * A forged or abandoned INVITE against the compiled agent (issue 10): SIPp sends an INVITE, takes our
 * 200 and never ACKs (tests/scenarios/no-ack.xml). It must cost nothing but the 200 retransmissions:
 * - cloud pipeline (Deepgram, Gemini, Cartesia fakes): no connection or request reaches any fake;
 * - offline pipeline: no pocketsphinx process is started;
 * - the call's RTP port is held while the 200 is retransmitted and back in the pool after Timer H
 *   (64·T1: 9.6 s here, the agents run with SIP_T1_MS=150 — RFC 3261 §17.1.1.1 allows a smaller T1 on a
 *   closed network, and so the knob is tested too; the instant for the default 32 s is tested on a fake
 *   clock in tests/call/inbound.test.ts), the record ended with reason "no_ack".
 * Control (so the checks can fail): an ACKed call to the offline agent does start a pocketsphinx process.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { descendantsNamed } from "./attack-support.ts";
import { startCloudFakes, type CloudFakes } from "./cloud-support.ts";

const hasTools = !!Bun.which("sipp") && !!Bun.which("pocketsphinx_continuous");
/** The agents' T1 (SIP_T1_MS), ms. */
const T1_MS = 150;
/** RFC 3261 Timer H = 64·T1. */
const TIMER_H_MS = 64 * T1_MS;

const started: RunningAgent[] = [];
let fakes: CloudFakes | undefined;
afterAll(async () => {
  await Promise.all(started.map((a) => a.stop()));
  await fakes?.close();
}, 30_000);

function fakeTraffic(f: CloudFakes) {
  return {
    deepgram: f.deepgram.connections.length,
    gemini: f.gemini.requests.length,
    cartesia: f.cartesia.connections.length,
  };
}

describe.skipIf(!hasTools)("an INVITE never ACKed (compiled agent)", () => {
  test(
    "costs no provider connection and no recogniser process; its port returns after Timer H",
    async () => {
      fakes = startCloudFakes({ script: ["hello"] });
      const t1 = { SIP_T1_MS: String(T1_MS) };
      const [cloud, offline] = await Promise.all([startAgent({ ...fakes.env(), ...t1 }), startAgent(t1)]);
      started.push(cloud, offline);
      const before = fakeTraffic(fakes);
      const forged = (agent: RunningAgent) =>
        runSipp({ scenario: "no-ack", target: `127.0.0.1:${agent.sipPort}`, timeoutMs: 10_000, extraArgs: ["-nd"] });
      const [rc, ro] = await Promise.all([forged(cloud), forged(offline)]);
      expect(rc.exitCode, describeSipp(rc)).toBe(0);
      expect(ro.exitCode, describeSipp(ro)).toBe(0);
      const answeredAt = Date.now();
      // While our 200 is retransmitted the port is held, and nothing else happens.
      for (const a of [cloud, offline]) expect((await a.get("/")).rtp.portsInUse).toBe(1);
      await Bun.sleep(3000);
      expect(fakeTraffic(fakes)).toEqual(before);
      expect(descendantsNamed(offline.proc.pid, /pocketsphinx/)).toEqual([]);
      for (const a of [cloud, offline]) {
        expect(a.logs().filter((l) => l.msg === "call answered")).toHaveLength(0);
        expect((await a.get("/")).rtp.portsInUse).toBe(1);
      }
      // Timer H: 64·T1 after the first 200 the UA gives up (BYE), the session ends, the port returns.
      for (const a of [cloud, offline]) {
        await waitFor(async () => (await a.get("/")).rtp.portsInUse === 0, TIMER_H_MS + 15_000 - (Date.now() - answeredAt), "the port back in the pool");
        const calls = await a.get("/calls");
        expect(calls.recent.map((c: any) => c.endReason)).toEqual(["no_ack"]);
      }
      expect(Date.now() - answeredAt).toBeGreaterThan(TIMER_H_MS - 1000);
      expect(fakeTraffic(fakes)).toEqual(before);
      expect(descendantsNamed(offline.proc.pid, /pocketsphinx/)).toEqual([]);

      // Control: an ACKed call does start the recogniser.
      const call = runSipp({ scenario: "inbound-call", target: `127.0.0.1:${offline.sipPort}`, audioFile: silenceFile(4), pauseMs: 4000, timeoutMs: 20_000 });
      const found = await waitFor(() => descendantsNamed(offline.proc.pid, /pocketsphinx/).length > 0, 8000, "a pocketsphinx process during the ACKed call");
      expect(found).toBe(true);
      const r = await call;
      expect(r.exitCode, describeSipp(r)).toBe(0);
    },
    TIMER_H_MS + 60_000,
  );
});
