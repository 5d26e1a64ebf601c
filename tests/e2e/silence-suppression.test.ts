/**
 * Silence suppression (RTP_SILENCE_SUPPRESSION, src/rtp/silence-suppression.ts) on the compiled agent, on
 * the wire: SIPp calls (tests/scenarios/cn-call.xml), the test is the caller's media (silence every 20 ms
 * from the SDP's port), the agent greets (offline pipeline) and then has nothing to say for 3 s; the
 * agent → caller RTP is captured on lo. Must hold:
 *  - on, CN not offered: the greeting's talkspurts start with the marker bit; in the idle span after it,
 *    only a marked G.711 silence frame every 400 ms; sequence numbers contiguous over the whole call (no
 *    loss: only the timestamp jumps, RFC 3551 §4.1); timestamps follow wall time across the gaps; the
 *    answer has no CN;
 *  - on, CN offered (0 101 13): `a=rtpmap:13 CN/8000` in the answer; in the idle span only PT 13 packets
 *    (13 bytes, noise level 127 = −127 dBov, RFC 3389 §3) every 400 ms, no G.711 frame;
 *  - off (the default): a frame every 20 ms for the whole call, no gap, no CN, as before.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { serializeRtp } from "../../src/rtp/packet.ts";
import { RtpCapture } from "../support/capture.ts";
import { freeUdpPort, freeUdpPortRange } from "../support/ports.ts";
import { missingTools } from "../support/process.ts";
import type { CapturedRtpPacket } from "../support/rtp-streams.ts";
import { describeSipp, runSipp, tellSippToHangUp } from "../support/sipp.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { waitForLog } from "./attack-support.ts";

const missing = missingTools(["sipp", "dumpcap", "flite"]);
const agents: RunningAgent[] = [];
afterAll(async () => {
  for (const a of agents) await a.stop();
}, 30_000);

/** Idle after the greeting, ms. */
const IDLE_MS = 3000;
const isSilence = (p: Uint8Array) => p.every((b) => b === 0xff);

interface Call {
  answer: string;
  /** Agent → caller packets (all payload types) in sequence order. */
  packets: CapturedRtpPacket[];
  /** Capture time of the end of the agent's greeting ("agent turn" logged) and of the hang-up, ms. */
  greetedMs: number;
  endMs: number;
}

async function call(agent: RunningAgent, formats: string): Promise<Call> {
  const media = await freeUdpPortRange(2);
  const caller = await Bun.udpSocket({ hostname: "127.0.0.1", port: media, binaryType: "uint8array", socket: { data: () => {} } });
  const cap = await RtpCapture.start({ portRanges: [[media, media + 1], [agent.rtpStart, agent.rtpEnd]] });
  const sippPort = await freeUdpPort();
  const turnsBefore = agent.logs().filter((l) => l.msg === "agent turn").length;
  const answeredBefore = agent.logs().filter((l) => l.msg === "call answered").length;
  const run = runSipp({
    scenario: "cn-call",
    target: `127.0.0.1:${agent.sipPort}`,
    localPort: sippPort,
    keys: { sdp_ip: "127.0.0.1", sdp_port: String(media), formats },
    timeoutMs: 60_000,
    extraArgs: ["-cid_str", `cn-${sippPort}-%u@%s`],
  });
  const answered = await waitForLog(() => agent.logs().filter((l) => l.msg === "call answered").slice(answeredBefore), (l) => typeof l.rtpPort === "number", 20_000, "the call to be answered");
  const rtpPort: number = answered.rtpPort;
  let seq = 0;
  const silence = new Uint8Array(160).fill(0xff);
  const timer = setInterval(() => caller.send(serializeRtp({ marker: seq === 0, payloadType: 0, sequenceNumber: seq, timestamp: seq++ * 160, ssrc: 0xca11e5, payload: silence }), rtpPort, "127.0.0.1"), 20);
  let greetedMs = 0;
  let endMs = 0;
  try {
    await waitFor(() => agent.logs().filter((l) => l.msg === "agent turn").length > turnsBefore, 40_000, "the greeting played");
    greetedMs = Date.now();
    await Bun.sleep(IDLE_MS);
    endMs = Date.now();
  } finally {
    clearInterval(timer);
  }
  await tellSippToHangUp(sippPort, `cn-${sippPort}-1@127.0.0.1`);
  const r = await run;
  const { rtpStreams } = await cap.stop();
  caller.close();
  expect(r.exitCode, describeSipp(r)).toBe(0);
  const ok = r.messages.find((m) => m.direction === "received" && m.status === 200 && /CSeq:\s*1 INVITE/.test(m.text));
  const toCaller = rtpStreams.filter((s) => s.src.port === rtpPort && s.dst.port === media);
  expect(toCaller).toHaveLength(1);
  return { answer: ok?.text ?? "", packets: toCaller[0]!.packets, greetedMs, endMs };
}

/** Packets inside [from, to] of the capture's clock. */
const within = (c: Call, from: number, to: number) => c.packets.filter((p) => p.arrivalMs >= from && p.arrivalMs <= to);

/** Whole-call checks of a suppressed stream: contiguous sequence numbers, timestamps on wall time, markers after each gap. */
function expectSuppressedStream(c: Call): void {
  const pk = c.packets;
  for (let i = 1; i < pk.length; i++) {
    const a = pk[i - 1]!;
    const b = pk[i]!;
    expect(b.extSeq, "sequence numbers contiguous: nothing lost, only the timestamp jumps").toBe(a.extSeq + 1);
    const tsMs = (b.extTimestamp - a.extTimestamp) / 8;
    // The timestamp follows the ticks (20 ms each) however late a packet was on a busy machine: within a few ticks of wall time.
    expect(Math.abs(tsMs - (b.arrivalMs - a.arrivalMs)), `timestamp step ${tsMs} ms vs arrival step ${(b.arrivalMs - a.arrivalMs).toFixed(1)} ms`).toBeLessThan(150);
    expect(tsMs % 20).toBe(0);
    // A G.711 packet after a gap (timestamp jump) starts a talkspurt: marker (RFC 3551 §4.1).
    if (b.payloadType === 0 && tsMs > 20 && a.payloadType === 0) expect(b.marker, `packet ${b.extSeq} after a ${tsMs} ms gap`).toBe(true);
  }
}

/** Arrival spacing of the packets in the idle span: one per 400 ms (busy-machine slack). */
function expectKeepAlives(idle: CapturedRtpPacket[]): void {
  expect(idle.length).toBeGreaterThanOrEqual(Math.floor(IDLE_MS / 400) - 2);
  expect(idle.length).toBeLessThanOrEqual(Math.ceil(IDLE_MS / 400) + 1);
  for (let i = 1; i < idle.length; i++) expect(idle[i]!.extTimestamp - idle[i - 1]!.extTimestamp, "400 ms apart on the RTP clock").toBe(3200);
}

describe.skipIf(missing.length > 0)("RTP silence suppression on the compiled agent (SIPp, loopback capture)", () => {
  test("on: talkspurts with markers, a marked silence frame every 400 ms while idle; with CN offered, PT 13 packets instead", async () => {
    const agent = await startAgent({ IDLE_PROMPT_S: "3600", RTP_SILENCE_SUPPRESSION: "on" });
    agents.push(agent);

    const plain = await call(agent, "0 101");
    expect(plain.answer).toMatch(/m=audio \d+ RTP\/AVP 0 101\r?\n/);
    expect(plain.answer).not.toContain("CN/8000");
    expect(plain.packets.some((p) => p.payloadType === 13)).toBe(false);
    expect(plain.packets.some((p) => p.payloadType === 0 && !isSilence(p.payload)), "the greeting was sent").toBe(true);
    expectSuppressedStream(plain);
    const idle = within(plain, plain.greetedMs + 500, plain.endMs - 100);
    console.log(`silence-suppression: no CN: ${plain.packets.length} packets in the call, ${idle.length} in ${IDLE_MS - 600} ms idle; markers ${plain.packets.filter((p) => p.marker).length}`);
    expect(idle.every((p) => p.payloadType === 0 && isSilence(p.payload) && p.marker), "only marked silence frames while idle").toBe(true);
    expectKeepAlives(idle);

    const cn = await call(agent, "0 101 13");
    expect(cn.answer).toMatch(/m=audio \d+ RTP\/AVP 0 101 13\r?\n/);
    expect(cn.answer).toMatch(/a=rtpmap:13 CN\/8000/);
    expectSuppressedStream(cn);
    const cnIdle = within(cn, cn.greetedMs + 500, cn.endMs - 100);
    console.log(`silence-suppression: CN: ${cn.packets.length} packets in the call, ${cnIdle.length} in the idle span, PT ${[...new Set(cnIdle.map((p) => p.payloadType))]}`);
    expect(cnIdle.every((p) => p.payloadType === 13), "only comfort noise while idle").toBe(true);
    expect(cnIdle.every((p) => p.payload.length === 1 && p.payload[0] === 127 && !p.marker), "CN: the noise level byte 127 (−127 dBov), no marker").toBe(true);
    expectKeepAlives(cnIdle);
    // The talkspurt after CN starts with the marker; nothing of G.711 silence is sent outside replies.
    const afterCn = cn.packets.findIndex((p, i) => i > 0 && p.payloadType === 0 && cn.packets[i - 1]!.payloadType === 13);
    if (afterCn > 0) expect(cn.packets[afterCn]!.marker).toBe(true);
  }, 150_000);

  test("off (the default): a frame every 20 ms for the whole call, no CN in the answer or on the wire", async () => {
    const agent = await startAgent({ IDLE_PROMPT_S: "3600", RTP_SILENCE_SUPPRESSION: "off" }); // as the default (README), whatever the suite's environment
    agents.push(agent);
    const c = await call(agent, "0 101 13");
    expect(c.answer).toMatch(/m=audio \d+ RTP\/AVP 0 101\r?\n/);
    expect(c.packets.some((p) => p.payloadType === 13)).toBe(false);
    const pk = c.packets;
    for (let i = 1; i < pk.length; i++) {
      expect(pk[i]!.extSeq).toBe(pk[i - 1]!.extSeq + 1);
      expect(pk[i]!.extTimestamp - pk[i - 1]!.extTimestamp, "continuous: +160 per packet").toBe(160);
    }
    const idle = within(c, c.greetedMs + 500, c.endMs - 100);
    console.log(`silence-suppression off: ${pk.length} packets, ${idle.length} in ${IDLE_MS - 600} ms idle`);
    expect(idle.length).toBeGreaterThan(((IDLE_MS - 600) / 20) * 0.8);
  }, 120_000);
});
