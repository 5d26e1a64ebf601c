/**
 * Answering-machine detection and the outbound opening's wait, on the compiled agent (offline pipeline)
 * with SIPp as the trunk/callee (tests/scenarios/outbound-answer.xml plays a μ-law file after the ACK and
 * waits for our BYE) and the RTP of both directions captured on loopback (dumpcap).
 *  - A voicemail: a ~10 s flite greeting, a 1000 Hz beep of 500 ms, then silence. AMD=message → machine;
 *    the agent is silent during the greeting and the beep, its message starts after the beep ended (in
 *    the capture), then BYE; the API says machine_detected, message_left, message_after "beep".
 *  - A person: "Hello?" then silence → human within 3 s; the opening starts after "Hello?" ended.
 * Times are compared on the capture's clock: the callee's packet at the file offset where the beep (or
 * "Hello?") ends, against the agent's first loud packet.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { startSippUas } from "../outbound/support/sipp-uas.ts";
import { RtpCapture } from "../support/capture.ts";
import { decodeG711 } from "../support/g711.ts";
import { freeUdpPort } from "../support/ports.ts";
import type { RtpStream } from "../support/rtp-streams.ts";
import { synthesizeCallerAudio, writeG711File } from "../support/speech.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const tools = ["sipp", "flite", "sox", "dumpcap"].every((t) => Bun.which(t));
const CALL = { phone_number: "+14155550100", opening_reason: "about your order", objective: "Tell them it ships tomorrow." };
const MESSAGE = "This is Acme about your order. Please call us back.";
let agent: RunningAgent | undefined;
let trunkPort = 0;
afterAll(async () => {
  await agent?.stop();
}, 20_000);

async function ensureAgent(): Promise<RunningAgent> {
  if (agent) return agent;
  trunkPort = await freeUdpPort();
  agent = await startAgent({ SIP_TRUNK_HOST: "127.0.0.1", SIP_TRUNK_PORT: String(trunkPort), SIP_CALLER_ID: "+14155550123", AMD: "message" }, ["--mode", "outbound"]);
  return agent;
}

/** Arrival (capture ms) of each packet's end, and whether it is loud, for the audio packets of a stream. */
function loudness(s: RtpStream): Array<{ at: number; loud: boolean }> {
  return s.audioPackets.map((p) => {
    const pcm = decodeG711(p.payload, s.law ?? "mulaw");
    let e = 0;
    for (const v of pcm) e += v * v;
    return { at: p.arrivalMs, loud: Math.sqrt(e / pcm.length) > 500 }; // ≈ −36 dBFS
  });
}

/** Places a call to a SIPp callee playing `pcm`, captures both RTP directions until the call ends. */
async function callee(pcm: Int16Array, body: Record<string, unknown>, whileUp?: (id: string) => Promise<void>) {
  const a = await ensureAgent();
  const sipp = await startSippUas({ scenario: "outbound-answer", port: trunkPort, audioFile: writeG711File(pcm) });
  const cap = await RtpCapture.start({ portRanges: [[a.rtpStart, a.rtpEnd]] });
  try {
    const res = await fetch(`http://127.0.0.1:${a.httpPort}/outbound/call`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...CALL, ...body }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const id = ((await res.json()) as { call_id: string }).call_id;
    await whileUp?.(id);
    const done = await waitFor(
      async () => {
        const c = await a.get(`/outbound/call/${id}`);
        return c.ended_at ? c : undefined;
      },
      30_000,
      "the call to end",
    );
    const sippResult = await sipp.finish(5000);
    if (process.env.AMD_E2E_LOGS) for (const l of a.logs().filter((x) => x.callId === id)) console.error(JSON.stringify(l).slice(0, 400));
    const result = await cap.stop();
    const inRange = (port: number) => port >= a.rtpStart && port <= a.rtpEnd;
    const most = (ss: RtpStream[]) => ss.sort((x, y) => y.audioPackets.length - x.audioPackets.length)[0];
    const fromCallee = most(result.rtpStreams.filter((s) => inRange(s.dst.port) && s.audioPackets.length > 0))!;
    const fromAgent = most(result.rtpStreams.filter((s) => inRange(s.src.port) && s.audioPackets.length > 0))!;
    console.log(`capture: ${result.rtpStreams.map((s) => `${s.src.port}→${s.dst.port} ${s.audioPackets.length} pkts, lost ${s.lost}`).join("; ")}`);
    expect(fromCallee).toBeDefined();
    expect(fromAgent).toBeDefined();
    return { done, sippResult, fromCallee, agentAudio: loudness(fromAgent) };
  } catch (err) {
    await cap.abort();
    // The agent's own account of the call, for the failure report.
    for (const l of a.logs().filter((x) => x.callId || /amd|answer|opening|machine/i.test(x.msg ?? ""))) console.error(JSON.stringify(l).slice(0, 300));
    throw err;
  }
}

/**
 * The capture time at which the callee's file reached `ms`: the arrival of the packet whose RTP timestamp
 * is `ms` into the stream (SIPp sends one 20 ms packet per 20 ms), or, if the capture lost it, the
 * nearest captured packet's arrival shifted by the timestamp difference.
 */
function calleeAt(s: RtpStream, ms: number): number {
  const first = s.audioPackets[0]!;
  const want = first.extTimestamp + ms * 8 - 160; // the packet that carries the samples just before `ms`
  let best = first;
  for (const p of s.audioPackets) if (Math.abs(p.extTimestamp - want) < Math.abs(best.extTimestamp - want)) best = p;
  return best.arrivalMs + (want - best.extTimestamp) / 8 + 20;
}

describe.skipIf(!tools)("answering-machine detection (compiled agent, SIPp callee, capture)", () => {
  test("a person: \"Hello?\" then waiting → human within 3 s, the opening after \"Hello?\" ended", async () => {
    const hello = await synthesizeCallerAudio("Hello?", { leadSilenceMs: 500, trailSilenceMs: 7000 });
    const helloEndMs = hello.phrases[0]!.endMs;
    const r = await callee(hello.pcm, {}, async (id) => {
      // Let the opening play, then hang up through the API (the callee says nothing more).
      await waitFor(async () => ((await agent!.get(`/outbound/call/${id}`)).transcript.some((t: any) => t.speaker === "agent" && !t.interrupted) ? true : undefined), 20_000, "the opening");
      await fetch(`http://127.0.0.1:${agent!.httpPort}/outbound/call/${id}/hangup`, { method: "POST" });
    });
    expect(r.sippResult.exitCode).toBe(0);
    expect(r.done).toMatchObject({ machine_detected: false, message_left: false, amd: { result: "human", reason: "short_greeting", action: "none" } });
    expect(r.done.amd.after_ms).toBeLessThan(3000);
    const helloEnd = calleeAt(r.fromCallee, helloEndMs);
    const firstLoud = r.agentAudio.find((p) => p.loud)!;
    expect(firstLoud).toBeDefined();
    const opening = agent!.logs().find((l) => l.msg === "agent turn" && l.turn === 0);
    console.log(
      `human: decided ${r.done.amd.after_ms} ms after the answer; opening ${Math.round(firstLoud.at - helloEnd)} ms after "Hello?" ended (first audio ${opening?.latencyMs?.firstAudioMs} ms, first RTP ${opening?.latencyMs?.firstRtpMs} ms after it was due)`,
    );
    // Not over "Hello?": after the phrase (whose last ~200 ms are flite's quiet padding) and a pause.
    expect(firstLoud.at).toBeGreaterThan(helloEnd + 200);
    expect(firstLoud.at).toBeLessThan(helloEnd + 6000); // synthesis on a busy 2-core machine included
  }, 40_000);

  test("a voicemail: 10 s greeting, beep → machine; silent until the beep ended, then the message, then BYE", async () => {
    const greeting = await synthesizeCallerAudio(
      [
        "Hi, you have reached the voicemail of John Smith.",
        "I am not able to take your call right now.",
        "Please leave your name, your number and a short message after the tone,",
        "and I will call you back as soon as I can. Thank you.",
      ],
      { leadSilenceMs: 400, gapMs: 400, trailSilenceMs: 300 },
    );
    const beep = new Int16Array(4000); // 500 ms at 1000 Hz, −12 dBFS
    for (let i = 0; i < beep.length; i++) beep[i] = Math.round(8200 * Math.sin((2 * Math.PI * 1000 * i) / 8000));
    const pcm = new Int16Array(greeting.pcm.length + beep.length + 8 * 8000);
    pcm.set(greeting.pcm, 0);
    pcm.set(beep, greeting.pcm.length);
    const beepEndMs = (greeting.pcm.length + beep.length) / 8;
    expect(greeting.durationMs).toBeGreaterThan(8000);

    const r = await callee(pcm, { voicemail_message: MESSAGE });
    expect(r.sippResult.exitCode).toBe(0); // SIPp got our BYE
    expect(r.done).toMatchObject({
      status: "completed",
      end_reason: "voicemail_message",
      machine_detected: true,
      message_left: true,
      amd: { result: "machine", action: "message", message_after: "beep", beep_hz: 1000 },
    });
    expect(["long_greeting", "many_words"]).toContain(r.done.amd.reason);
    expect(r.done.amd.after_ms).toBeLessThan(4000);
    expect(r.done.transcript.filter((t: any) => t.speaker === "agent").map((t: any) => t.text)).toEqual([MESSAGE]);
    const beepEnd = calleeAt(r.fromCallee, beepEndMs);
    const loud = r.agentAudio.filter((p) => p.loud);
    expect(loud.length * 20).toBeGreaterThan(1200); // the message went out (its words, without the pauses)
    console.log(`machine (${r.done.amd.reason}) at ${r.done.amd.after_ms} ms; message ${Math.round(loud[0]!.at - beepEnd)} ms after the beep ended, ${loud.length * 20} ms of it`);
    expect(loud[0]!.at).toBeGreaterThan(beepEnd); // nothing over the greeting or the beep
    expect(loud[0]!.at).toBeLessThan(beepEnd + 6000);
  }, 60_000);
});
