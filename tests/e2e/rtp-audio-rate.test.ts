/**
 * Audio faster than real time from the call's own peer (s23 fresheyes3 finding): the receive path policed
 * packets (150/s), not audio, so a caller sending valid PCMU packets of 1,488 bytes (9.3 frames each) at
 * 140/s pushed 26× real time into the decoder, the VAD and the recogniser — a 10 s call counted 259 s of
 * STT audio (`usage.sttAudioS`, what a cloud STT bills by) and took 3× a normal call's CPU. Now a stream
 * also has an audio budget in samples (src/rtp/rate-policer.ts: 1.5× real time after a burst of 5 s).
 * On the compiled agent (loopback): a call from 127.0.0.1 whose caller sends two 1,480-byte PCMU packets
 * every 20 ms (18.5× real time) for 4 s, then hangs up → the record's STT seconds stay within 5 s + 1.5 ×
 * the call's length plus the silence filled in while nothing got through (12.1 s for a 4.1 s call; the
 * start build 72.9 s), at least the 5 s burst got through, and the excess is counted as `rate`.
 * `VOICE_AGENT_E2E_BINARY=/path bun test …` runs it against another binary (the before/after).
 */
import { describe, expect, test } from "bun:test";
import { serializeRtp } from "../../src/rtp/packet.ts";
import { startAgent, waitFor } from "./agent.ts";
import { metricValue } from "./attack-support.ts";
import { closeAfterAll, placeRawCall } from "./raw-call.ts";

const { started, calls } = closeAfterAll();

const PAYLOAD_BYTES = 1480;
const SEND_MS = 4000;

describe("RTP audio faster than real time from the caller (compiled binary, loopback)", () => {
  test("two 1,480-byte PCMU packets every 20 ms for 4 s: STT seconds ≤ 5 s + 1.5 × the call (+ the fill in gaps), the rest dropped as 'rate'", async () => {
    const binary = process.env.VOICE_AGENT_E2E_BINARY;
    const agent = await startAgent({ IDLE_PROMPT_S: "3600" }, ["--mode", "inbound"], binary ? { binary } : {});
    started.push(agent);
    const callId = `rtp-rate-${process.pid}@127.0.0.1`;
    const call = await placeRawCall(agent, callId);
    calls.push(call);
    const { media, rtpPort } = call;
    const dropsBefore = metricValue(await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text(), "voice_agent_rtp_dropped_total", { reason: "rate" }) ?? 0;
    // Alternating ±1-step μ-law around zero: valid audio, nothing the recogniser turns into words.
    const payload = Uint8Array.from({ length: PAYLOAD_BYTES }, (_, i) => (i % 2 ? 0xfe : 0x7e));
    let seq = 0;
    const t0 = performance.now();
    // Two packets per 20 ms tick (100/s, under the 150/s packet rate): 18.5× real time, so even a timer
    // starved to half its rate sends more than the bound below.
    const timer = setInterval(() => {
      for (let i = 0; i < 2; i++, seq++) {
        media.send(serializeRtp({ marker: seq === 0, payloadType: 0, sequenceNumber: seq, timestamp: seq * PAYLOAD_BYTES, ssrc: 0xb16b16, payload }), rtpPort, "127.0.0.1");
      }
    }, 20);
    try {
      await Bun.sleep(SEND_MS);
    } finally {
      clearInterval(timer);
    }
    const sentS = (seq * PAYLOAD_BYTES) / 8000;
    await Bun.sleep(100); // our last packets reach the agent before the BYE closes its port
    await call.request("BYE", 2);
    const rec = await waitFor(
      async () => ((await agent.get("/calls")).recent as any[]).find((c) => c.sipCallId === callId && c.usage?.sttAudioS !== undefined),
      10_000,
      "the ended call's record with its usage",
    );
    const callS = rec.durationMs / 1000;
    const sttS = rec.usage.sttAudioS as number;
    const dropped = (metricValue(await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text(), "voice_agent_rtp_dropped_total", { reason: "rate" }) ?? 0) - dropsBefore;
    console.log(`rtp-audio-rate: sent ${seq} packets = ${sentS.toFixed(1)} s of audio in ${((performance.now() - t0) / 1000).toFixed(1)} s; call ${callS.toFixed(1)} s; STT got ${sttS} s; dropped as rate ${dropped}`);
    // The budget: 5 s + 1.5 × the call of policed audio, plus the silence the agent fills in for the
    // caller when no packet got through for 60 ms (src/rtp/missing-media.ts: at most real time).
    const bound = 5 + 2.5 * callS + 0.5;
    expect(sentS).toBeGreaterThan(2 * bound); // the premise: far more than the budget was sent
    expect(sttS).toBeGreaterThanOrEqual(5); // the burst: accepted as the caller's audio, not dropped for another reason
    expect(sttS).toBeLessThanOrEqual(bound);
    expect(dropped).toBeGreaterThan(0);
  }, 60_000);
});
