/**
 * A CANCEL under an INVITE flood (s22 closing note: CANCELs rode the receive queue's ordinary lane behind
 * new INVITEs and came up to 2 s late, or were dropped with them when the lane was full). A CANCEL whose
 * INVITE is pending now goes to the urgent lane (src/sip/transport/receive-lanes.ts `expectCancel`).
 *
 * On the compiled agent (loopback): a caller on 127.0.0.1 sends an INVITE that rings (ANSWER_DELAY_MS
 * 20 s) and gets its 100; then 127.0.0.2 floods new INVITEs at ~5,000/s for 3 s (15,000 datagrams, the
 * per-source rate limit off so one socket stands for the 200 sources under their limits of the s22
 * attack; MAX_CALLS 1, so each is screened and refused 503 statelessly, ~0.1 ms of the call thread:
 * more than the ordinary lane's quarter of the thread handles). One second into the flood the caller sends its CANCEL, resent on
 * Timer E's schedule (T1 500 ms, §17.1.2.2) like a real UAC: the 200 to it and the 487 to the INVITE come
 * back promptly, while the flood goes on (measured: 9, 12 and 26 ms; the start binary of session 23: the
 * first CANCEL lost, its resend answered 805 and 933 ms after the first). `VOICE_AGENT_E2E_BINARY=/path bun test …` runs it
 * against another binary (the before/after).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { startAgent, type RunningAgent } from "./agent.ts";
import { sipRequest } from "./attack-support.ts";

let agent: RunningAgent | undefined;
afterAll(async () => {
  await agent?.stop();
}, 30_000);

/** Flood rate (datagrams/s) and length (ms). */
const FLOOD_PER_S = 5000;
const FLOOD_MS = 3000;
/** How soon the 200 to the CANCEL must come, ms: urgent, it waits for a slice, not for the flood (before: 1–2 s or never). */
const CANCEL_ANSWER_MS = 400;

describe("CANCEL under an INVITE flood (compiled binary, loopback)", () => {
  test("a ringing call's CANCEL sent 1 s into a 5,000/s INVITE flood is answered (200, then 487) within 400 ms", async () => {
    const binary = process.env.VOICE_AGENT_E2E_BINARY;
    agent = await startAgent({ ANSWER_DELAY_MS: "20000", SIP_RATE_LIMIT: "0", MAX_CALLS: "1", IDLE_PROMPT_S: "3600" }, ["--mode", "inbound"], binary ? { binary } : {});
    const to = { host: "127.0.0.1", port: agent.sipPort };
    const got: Array<{ at: number; text: string }> = [];
    const caller = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void got.push({ at: performance.now(), text: Buffer.from(d).toString("latin1") }) } });
    let flooded = 0;
    const flooder = await Bun.udpSocket({ hostname: "127.0.0.2", port: 0, socket: { data: () => void flooded++ } });
    try {
      const from = { host: "127.0.0.1", port: caller.port };
      const call = { to, from, callId: `cancel-prio-${process.pid}@127.0.0.1`, tag: "ringing", branch: `z9hG4bK-cancel-prio-${process.pid}` };
      caller.send(sipRequest("INVITE", call), to.port, to.host);
      const deadline = performance.now() + 10_000;
      while (!got.some((m) => m.text.startsWith("SIP/2.0 100"))) {
        if (performance.now() > deadline) throw new Error(`no 100 Trying for the INVITE: ${got.map((m) => m.text.split("\r\n")[0]).join(", ")}`);
        await Bun.sleep(10);
      }

      const floodFrom = { host: "127.0.0.2", port: flooder.port };
      const t0 = performance.now();
      let sent = 0;
      let cancelAt = 0;
      let resends = 0;
      const answered = () => got.find((m) => m.text.startsWith("SIP/2.0 200") && /^CSeq:\s*1 CANCEL/im.test(m.text));
      while (performance.now() - t0 < FLOOD_MS) {
        const due = Math.floor(((performance.now() - t0) / 1000) * FLOOD_PER_S);
        for (; sent < due; sent++) flooder.send(sipRequest("INVITE", { to, from: floodFrom }), to.port, to.host);
        const since = performance.now() - t0;
        if (cancelAt === 0 && since >= 1000) cancelAt = performance.now();
        // The CANCEL and its Timer E resends (T1, 2·T1, …) until its 200.
        if (cancelAt > 0 && !answered() && performance.now() >= cancelAt + (resends === 0 ? 0 : 500 * (2 ** resends - 1))) {
          caller.send(sipRequest("CANCEL", call), to.port, to.host);
          resends++;
        }
        await Bun.sleep(4);
      }
      await Bun.sleep(2500); // what is still queued
      const ok = answered();
      const terminated = got.find((m) => m.text.startsWith("SIP/2.0 487") && /^CSeq:\s*1 INVITE/im.test(m.text));
      const ms = (m: { at: number } | undefined) => (m ? Math.round(m.at - cancelAt) : "none");
      console.log(`cancel-priority: flood ${sent} INVITEs in ${FLOOD_MS} ms (${flooded} answers); CANCEL sent ${resends}×, 200 after ${ms(ok)} ms, 487 after ${ms(terminated)} ms`);
      expect(sent).toBeGreaterThan(FLOOD_PER_S * (FLOOD_MS / 1000) * 0.9);
      expect(ok).toBeDefined();
      expect(ok!.at - cancelAt).toBeLessThan(CANCEL_ANSWER_MS);
      expect(terminated).toBeDefined();
      expect(terminated!.at - cancelAt).toBeLessThan(CANCEL_ANSWER_MS);
    } finally {
      caller.close();
      flooder.close();
    }
  }, 60_000);
});
