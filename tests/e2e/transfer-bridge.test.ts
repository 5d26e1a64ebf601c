/**
 * TRANSFER_FALLBACK=bridge on the compiled agent, SIPp on both sides: SIPp callers are the trunk
 * delivering inbound calls (tests/scenarios/transfer-refused*.xml: a key by SIP INFO → the scripted
 * transfer_call → REFER → 403), one SIPp UAS is the trunk the agent's second call goes through and the
 * target behind it (tests/scenarios/bridge-callee-*.xml, answering in PCMA while the callers are PCMU).
 * - Bridged: a 500 Hz tone from the caller arrives at the target and a 1400 Hz tone from the target at
 *   the caller (Goertzel per 20 ms packet in a capture), each leg with its own SSRC; the caller's BYE
 *   ends the target's leg with BYE; the target's BYE ends the caller's call with BYE; keys pressed (SIP
 *   INFO) on either side reach the other as RFC 4733 events.
 * - Not bridged, the call goes on and the caller hears the explanation: the target busy (486), and a
 *   REFER accepted with no NOTIFY within TRANSFER_NOTIFY_TIMEOUT_S, and a NOTIFY sipfrag 486 (no fallback
 *   for these two: documented in src/call/transfer-bridge.ts). REFER 202 → NOTIFY 200 and the 400/489
 *   answers to bad NOTIFYs are in transfer.test.ts.
 * Providers: the Deepgram and Cartesia protocol fakes (tests/fakes; Cartesia "speaks" 5 ms of 440 Hz per
 * character, so the explanation is a known tone of known length) and the scripted dialogue, so five calls
 * at once cost little CPU. One agent, five callers at once; about 15 s with the agent's start.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeSipp, runSipp, type SippResult } from "../support/sipp.ts";
import { missingTools } from "../support/process.ts";
import { freeUdpPortRange } from "../support/ports.ts";
import { RtpCapture, type CaptureResult } from "../support/capture.ts";
import { decodeG711, encodeG711, lawOfPayloadType } from "../support/g711.ts";
import { streamsByPort, type RtpStream } from "../support/rtp-streams.ts";
import { startSippUas, type SippUas } from "../outbound/support/sipp-uas.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { repeatLine, startCloudFakes, type CloudFakes } from "./cloud-support.ts";

const missing = missingTools(["sipp", "dumpcap"]);
const CALLER_HZ = 500;
const TARGET_HZ = 1400;
/** The Cartesia fake's voice (tests/fakes/cartesia.ts fakeSpeech): 40 samples of 440 Hz per character. */
const AGENT_HZ = 440;
const FAILED_TEXT = "I am sorry, I could not transfer you right now. Is there anything else I can help you with?";

let agent: RunningAgent;
let fakes: CloudFakes;
let trunkPort: number;
/** SIPp as the trunk and the targets behind it (tests/scenarios/bridge-trunk.xml), for the agent's legs. */
let trunk: SippUas;
let dir: string;
const file = (name: string) => join(dir, name);

/** `seconds` of a sine at `hz`, −12 dBFS, as raw G.711. */
function tone(hz: number, seconds: number, law: "mulaw" | "alaw"): Uint8Array {
  const pcm = new Int16Array(seconds * 8000);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / 8000));
  return encodeG711(pcm, law);
}

/** Share of a packet's energy at `hz` (Goertzel; 1 for a pure tone on a bin of the 160-sample frame). */
function toneShare(pcm: Int16Array, hz: number): number {
  const k = (2 * Math.PI * hz) / 8000;
  const c = 2 * Math.cos(k);
  let s1 = 0, s2 = 0, energy = 0;
  for (const x of pcm) {
    const s0 = x + c * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += x * x;
  }
  const power = s1 * s1 + s2 * s2 - c * s1 * s2;
  return energy > 0 ? (2 * power) / (pcm.length * energy) : 0;
}

/** Arrival times (ms) of the stream's audio packets in which `hz` carries most of the energy. */
function toneTimes(s: RtpStream, hz: number): number[] {
  return s.audioPackets.filter((p) => toneShare(decodeG711(p.payload, lawOfPayloadType(p.payloadType)!), hz) > 0.6).map((p) => p.arrivalMs);
}

/** When the first datagram (from `srcPort`, if given) whose text matches `re` was captured, ms. */
function sipTime(res: CaptureResult, re: RegExp, srcPort?: number): number {
  const d = res.datagrams.find((g) => (srcPort === undefined || g.srcPort === srcPort) && re.test(new TextDecoder().decode(g.payload)));
  if (!d) throw new Error(`no datagram matching ${re} in the capture`);
  return d.timeMs;
}

/** The agent's stream to a SIPp media port (from `fromPort`, when given): exactly one, one SSRC for the whole call. */
function agentStreamTo(res: CaptureResult, port: number, fromPort?: number): RtpStream {
  const s = streamsByPort(res.rtpStreams, port).filter((x) => (fromPort === undefined ? x.src.port >= agent.rtpStart && x.src.port <= agent.rtpEnd : x.src.port === fromPort));
  expect(s.length, `streams to ${port}: ${s.map((x) => x.ssrc).join(",")}`).toBe(1);
  return s[0]!;
}

async function records(): Promise<any[]> {
  const { recent } = await agent.get("/calls?limit=50");
  return Promise.all(recent.map((r: any) => agent.get(`/calls/${r.id}`)));
}

beforeAll(async () => {
  if (missing.length > 0) return;
  dir = mkdtempSync(join(tmpdir(), "transfer-bridge-"));
  writeFileSync(file("caller.ulaw"), tone(CALLER_HZ, 6, "mulaw"));
  writeFileSync(file("target.alaw"), tone(TARGET_HZ, 6, "alaw"));
  writeFileSync(file("silence.ulaw"), new Uint8Array(8000 * 8).fill(0xff));
  // The trunk binds its port before the agent starts (a port only picked could be taken meanwhile).
  trunk = await startSippUas({ scenario: "bridge-trunk", calls: 3, pauseMs: 2500, keys: { audio: `${file("target.alaw")},1,8` } });
  trunkPort = trunk.port;
  fakes = startCloudFakes({ script: repeatLine("hello", 20) });
  agent = await startAgent(
    fakes.env({
      SCRIPT_FILE: "tests/fixtures/transfer-bridge-menu.json",
      LLM_PROVIDER: "scripted",
      TRANSFER_TARGETS: ["sales", "desk", "back"].map((t) => `${t}=sip:${t}@127.0.0.1:${trunkPort}`).join(","),
      TRANSFER_FALLBACK: "bridge",
      TRANSFER_NOTIFY_TIMEOUT_S: "1",
      SIP_TRUNK_HOST: "127.0.0.1",
      SIP_TRUNK_PORT: String(trunkPort),
      SIP_CALLER_ID: "+14155550100",
      RING_TIMEOUT_S: "5",
    }),
  );
}, 60_000);

afterAll(async () => {
  await trunk?.proc.stop({ signal: "SIGKILL", graceMs: 0 });
  await agent?.stop();
  await fakes?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The target's media port: the one its 200 OK offered (SIPp gives each call its own). */
function mediaPortOf200(messages: Array<{ direction: string; status?: number; text: string }>): number {
  const ok = messages.find((m) => m.direction === "sent" && m.status === 200 && /m=audio/.test(m.text))!;
  return Number(/m=audio (\d+)/.exec(ok.text)![1]);
}

/** A SIPp caller against the agent pressing `key` (0: sales, 1: desk, 2: back). */
function call(scenario: string, key: "0" | "1" | "2", mediaPort: number, audio: string, pauseMs: number) {
  return runSipp({ scenario, target: `127.0.0.1:${agent.sipPort}`, mediaPort, audioFile: file(audio), pauseMs, keys: { key }, timeoutMs: 45_000 });
}

/**
 * The busy and no-NOTIFY calls' end: the failure line was said, and most of its audio (≥ 20 of its ~23
 * packets of the fake voice; the "Please hold" line before it has 8) reached the caller after `after`.
 */
function expectExplained(res: CaptureResult, rec: any, media: number, after: number, what: string): void {
  expect(rec.turns.map((t: any) => t.text), rec.id).toContain(FAILED_TEXT);
  const heard = toneTimes(agentStreamTo(res, media), AGENT_HZ).filter((t) => t > after);
  console.log(`explanation heard (${what}): ${heard.length * 20} ms of the agent's voice`);
  expect(heard.length).toBeGreaterThanOrEqual(20);
}

test.skipIf(missing.length > 0)(
  "five callers at once: REFER 403 → bridged both ways (tones) and ended by either side's BYE; a busy target, a REFER with no NOTIFY or a NOTIFY 486 → the call goes on and the caller hears why",
  async () => {
    const [bridgedMedia, backMedia, busyMedia, silentMedia, notifyMedia] = await Promise.all([1, 2, 3, 4, 5].map(() => freeUdpPortRange(4)));
    const cap = await RtpCapture.start({ ports: [agent.sipPort, trunkPort], portRanges: [[agent.rtpStart, agent.rtpEnd]] });
    // SIPp fails on a BYE it does not expect: the agent must not hang up the busy and no-NOTIFY calls before SIPp does.
    const [bridged, back, busy, silent, notify486] = await Promise.all([
      call("transfer-refused", "0", bridgedMedia, "caller.ulaw", 3000),
      call("transfer-refused-wait", "2", backMedia, "caller.ulaw", 1000),
      call("transfer-refused", "1", busyMedia, "silence.ulaw", 3500),
      call("transfer-no-notify", "0", silentMedia, "silence.ulaw", 4000),
      // REFER 202, NOTIFY sipfrag 486 (tests/scenarios/transfer-busy.xml, key 0 by INFO): no fallback.
      runSipp({ scenario: "transfer-busy", target: `127.0.0.1:${agent.sipPort}`, mediaPort: notifyMedia, pauseMs: 3000, timeoutMs: 45_000 }),
    ]);
    const target = await trunk.finish(10_000);
    const res = await cap.stop();
    try {
      await checkAll({ bridged, back, busy, silent, notify486, target, res, bridgedMedia, backMedia, busyMedia, silentMedia, notifyMedia });
    } catch (err) {
      // What the agent and the trunk saw, for a failure on someone else's machine.
      console.log(agent.logs().filter((l) => !/rtcp|pacer/.test(l.msg)).map((l) => JSON.stringify(l)).join("\n"));
      console.log(`trunk:\n${target.messages.map((m) => `${m.time} ${m.direction} ${m.firstLine}`).join("\n")}\n${target.errors}`);
      throw err;
    }
  },
  90_000,
);

async function checkAll(o: {
  bridged: SippResult;
  back: SippResult;
  busy: SippResult;
  silent: SippResult;
  notify486: SippResult;
  target: Awaited<ReturnType<SippUas["finish"]>>;
  res: CaptureResult;
  bridgedMedia: number;
  backMedia: number;
  busyMedia: number;
  silentMedia: number;
  notifyMedia: number;
}): Promise<void> {
  const { bridged, back, busy, silent, notify486, target, res, bridgedMedia, backMedia, busyMedia, silentMedia, notifyMedia } = o;
  for (const r of [bridged, back, busy, silent, notify486]) expect(r.exitCode, describeSipp(r)).toBe(0);
  expect(target.exitCode, `${target.errors}\n${target.messages.map((m) => m.firstLine).join("\n")}`).toBe(0);
  const invites = target.messages.filter((m) => m.direction === "received" && m.method === "INVITE");
  expect(invites.map((m) => m.firstLine).sort()).toEqual(["back", "desk", "sales"].map((t) => `INVITE sip:${t}@127.0.0.1:${trunkPort} SIP/2.0`));
  for (const m of invites) expect(m.text).toMatch(/^From: <sip:\+14155550100@127\.0\.0\.1>;tag=/m);

  const recs = await waitFor(async () => {
    const all = await records();
    const byTarget = (t: string) => all.find((r) => r.direction === "inbound" && r.transfer?.target === t && r.transfer.referStatus === 403 && r.transfer.outcome !== "pending" && r.endedAt);
    const found = {
      sales: byTarget("sales"),
      back: byTarget("back"),
      desk: byTarget("desk"),
      silent: all.find((r) => r.transfer?.outcome === "no_notify" && r.endedAt),
      notified: all.find((r) => r.transfer?.method === "refer" && r.transfer.finalStatus === 486 && r.endedAt),
    };
    const legsDone = all.filter((r) => r.direction === "outbound" && r.endedAt).length === 3;
    return Object.values(found).every(Boolean) && legsDone ? { ...found, all } : undefined;
  }, 5000, "the five callers' and three legs' records");
  const legOf = (parent: any) => recs.all.find((r: any) => r.id === parent.transfer.legCallId);

  // The caller hung up: the target's leg got our BYE (SIPp waits for it).
  expect(recs.sales.transfer, JSON.stringify(recs.sales.transfer)).toMatchObject({ method: "bridge", outcome: "bridged", referStatus: 403, endedBy: "caller" });
  expect(Date.parse(recs.sales.transfer.bridgedAt)).toBeGreaterThanOrEqual(Date.parse(recs.sales.transfer.startedAt));
  expect(legOf(recs.sales)).toMatchObject({ direction: "outbound", status: "completed", codec: "PCMA", to: `sip:sales@127.0.0.1:${trunkPort}`, metadata: { bridge_of: recs.sales.id, transfer_target: "sales" } });
  expect(recs.sales.turns.map((t: any) => t.text)).not.toContain(FAILED_TEXT); // the conversation stopped at the bridge
  // The target hung up: the caller got our BYE (its SIPp waits for it).
  expect(recs.back.transfer).toMatchObject({ method: "bridge", outcome: "bridged", endedBy: "target" });
  expect(recs.back.endReason).toBe("transfer_target_hangup");
  expect(legOf(recs.back)).toMatchObject({ status: "completed", metadata: { bridge_of: recs.back.id } });

  // The back caller pressed 5 (SIP INFO) while bridged: the target got it as RFC 4733 events (§2.5.1:
  // one event, the last packet with E set sent three times).
  const backInvite = invites.find((m) => m.firstLine.includes("sip:back@"))!;
  const backLegPort = Number(/m=audio (\d+)/.exec(backInvite.text)![1]);
  const events = res.rtpStreams.filter((x) => x.src.port === backLegPort).flatMap((x) => x.packets.filter((p) => p.payloadType === 101));
  expect(new Set(events.map((p) => p.payload[0])), "event codes").toEqual(new Set([5]));
  expect(events.filter((p) => (p.payload[1]! & 0x80) !== 0).length).toBe(3);
  // … and the target's 7 (SIP INFO) reached the caller the same way.
  const toBackCaller = agentStreamTo(res, backMedia).packets.filter((p) => p.payloadType === 101);
  expect(new Set(toBackCaller.map((p) => p.payload[0])), "event codes to the caller").toEqual(new Set([7]));
  expect(toBackCaller.filter((p) => (p.payload[1]! & 0x80) !== 0).length).toBe(3);

  // Audio of the sales bridge: each side's tone reaches the other, each leg with our own SSRC.
  const salesInvite = invites.find((m) => m.firstLine.includes("sip:sales@"))!;
  const callId = /^Call-ID: *(.+)$/m.exec(salesInvite.text)![1]!.trim();
  const calleeMedia = mediaPortOf200(target.messages.filter((m) => m.text.includes(callId)));
  // SIPp gives every call the same media port: the leg's stream is the one from the port our INVITE offered.
  const legPort = Number(/m=audio (\d+)/.exec(salesInvite.text)![1]);
  const toTarget = agentStreamTo(res, calleeMedia, legPort);
  const toCaller = agentStreamTo(res, bridgedMedia);
  expect(toTarget.payloadTypes).toEqual([8]); // the target's law: transcoded from the caller's PCMU
  expect(toCaller.payloadTypes[0]).toBe(0);
  const theirs = res.rtpStreams.filter((x) => x.dst.port >= agent.rtpStart && x.dst.port <= agent.rtpEnd).map((x) => x.ssrc);
  expect(toTarget.ssrc).not.toBe(toCaller.ssrc);
  for (const ours of [toTarget.ssrc, toCaller.ssrc]) expect(theirs).not.toContain(ours);
  expect(toTarget.lost + toCaller.lost).toBe(0);
  const callerToneAtTarget = toneTimes(toTarget, CALLER_HZ);
  const targetToneAtCaller = toneTimes(toCaller, TARGET_HZ);
  // Time through the bridge (printed, not asserted): each forwarded packet after the caller's packet it carries.
  const fromCaller = res.rtpStreams.filter((x) => x.src.port === bridgedMedia).flatMap((x) => x.audioPackets.map((p) => p.arrivalMs)).sort((a, b) => a - b);
  const through = toTarget.audioPackets.map((p) => p.arrivalMs - (fromCaller.filter((t) => t <= p.arrivalMs).at(-1) ?? NaN)).filter((d) => d >= 0).sort((a, b) => a - b);
  const pct = (q: number) => through[Math.min(through.length - 1, Math.floor(q * through.length))]!.toFixed(2);
  console.log(`bridge: caller tone → target ${callerToneAtTarget.length} packets, target tone → caller ${targetToneAtCaller.length} packets; relay delay p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${pct(1)} ms`);
  expect(callerToneAtTarget.length).toBeGreaterThan(75); // > 1.5 s of the ~2.8 s bridged
  expect(targetToneAtCaller.length).toBeGreaterThan(75);
  // The caller hears the target only after the target answered (no tone leaks before the 200).
  const answeredAt = res.datagrams.find((g) => g.srcPort === trunkPort && /^SIP\/2\.0 200 OK[\s\S]*m=audio/.test(new TextDecoder().decode(g.payload)) && new TextDecoder().decode(g.payload).includes(callId))!.timeMs;
  expect(Math.min(...targetToneAtCaller)).toBeGreaterThanOrEqual(answeredAt);

  // Not bridged: the busy target and the REFER that never got its NOTIFY.
  expect(recs.desk.transfer).toMatchObject({ method: "bridge", outcome: "failed", referStatus: 403, finalStatus: 486 });
  expect(legOf(recs.desk)).toMatchObject({ direction: "outbound", status: "busy", metadata: { bridge_of: recs.desk.id } });
  expectExplained(res, recs.desk, busyMedia, sipTime(res, /^SIP\/2\.0 486 /), "target busy");
  expect(recs.silent.transfer).toMatchObject({ method: "refer", referStatus: 202 });
  expect(recs.silent.transfer.legCallId).toBeUndefined(); // no second call when the REFER was accepted
  expectExplained(res, recs.silent, silentMedia, sipTime(res, /^SIP\/2\.0 202 /) + 1000, "no NOTIFY");
  // NOTIFY sipfrag 486 (the target itself refused): no second call, the caller hears why.
  expect(recs.notified.transfer).toMatchObject({ method: "refer", outcome: "failed", referStatus: 202, finalStatus: 486 });
  expect(recs.notified.transfer.legCallId).toBeUndefined();
  const notifiedAt = res.datagrams.find((g) => g.srcPort === notify486.localPort && /^NOTIFY [\s\S]*SIP\/2\.0 486 Busy Here/.test(new TextDecoder().decode(g.payload)))!.timeMs;
  expectExplained(res, recs.notified, notifyMedia, notifiedAt, "NOTIFY 486");
}
