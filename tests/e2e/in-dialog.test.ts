/**
 * In-dialog offer/answer against the compiled agent (RFC 3261 §14, RFC 3311, RFC 3264 §8), with SIPp
 * as the caller and the wire captured: hold/resume (direction and o= version in each 200, no agent RTP
 * while held, RTP again after), codec change by UPDATE (PT 8 on the wire after it), offer-less
 * re-INVITE (our offer in the 200, the answer in the ACK switches back to PCMU), UPDATE without SDP,
 * 488 to an offer without G.711 with the call going on, 420 to Require: 100rel, RTCP SRs on port + 1.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { RtpCapture } from "../support/capture.ts";
import { freeUdpPortRange } from "../support/ports.ts";
import { describeSipp, finalResponseTo, runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { missingTools } from "../support/process.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const missing = missingTools(["sipp", "dumpcap"]);
let agent: RunningAgent;

beforeAll(async () => {
  if (missing.length === 0) agent = await startAgent();
}, 120_000);

afterAll(async () => {
  await agent?.stop();
});

/** The agent's final response to CSeq `seq` `method`. */
const responseTo = finalResponseTo;
const origin = (text: string) => /^o=\S+ (\d+) (\d+)/m.exec(text)?.slice(1).map(Number) ?? [];
const direction = (text: string) => /^a=(sendrecv|sendonly|recvonly|inactive)/m.exec(text)?.[1];
const mline = (text: string) => /^m=audio \d+ RTP\/AVP ([\d ]+)$/m.exec(text)?.[1];

test.skipIf(missing.length > 0)("hold, resume, codec change, offer-less re-INVITE, UPDATE, 488 and 420 inside one call", async () => {
  const media = await freeUdpPortRange(4);
  const cap = await RtpCapture.start({ ports: [agent.sipPort], portRanges: [[media, media + 3]] });
  const r = await runSipp({
    scenario: "in-dialog",
    target: `127.0.0.1:${agent.sipPort}`,
    mediaPort: media,
    keys: { audio: `${silenceFile(1, "mulaw")},-1,0` },
    pauseMs: 2000,
    timeoutMs: 40_000,
  });
  const { datagrams } = await cap.stop();
  expect(r.exitCode, describeSipp(r)).toBe(0);
  const m = r.messages;

  const trace = m.map((x) => x.firstLine).join(" | ");
  for (const [seq, method] of [[1, "INVITE"], [2, "INVITE"], [3, "INVITE"], [4, "UPDATE"], [5, "INVITE"], [6, "UPDATE"], [7, "INVITE"], [8, "OPTIONS"], [9, "BYE"]] as const) {
    expect(responseTo(m, seq, method), `no final response to CSeq ${seq} ${method}: ${trace}`).toBeDefined();
  }
  const first = responseTo(m, 1, "INVITE")!.text;
  const [id, v1] = origin(first);
  const hold = responseTo(m, 2, "INVITE")!.text;
  expect(direction(hold)).toBe("recvonly");
  expect(origin(hold)).toEqual([id, v1 + 1]);
  const resume = responseTo(m, 3, "INVITE")!.text;
  expect(direction(resume)).toBe("sendrecv");
  expect(origin(resume)).toEqual([id, v1 + 2]);
  const update = responseTo(m, 4, "UPDATE")!.text;
  expect(mline(update)).toBe("8 96"); // PCMA + telephone-event/96: never a codec the offer lacked
  expect(origin(update)).toEqual([id, v1 + 3]);
  const offer = responseTo(m, 5, "INVITE")!.text;
  expect(offer).toMatch(/^SIP\/2.0 200/);
  expect(direction(offer)).toBe("sendrecv");
  expect(mline(offer)).toBe("8 0 96"); // current codec first
  expect(origin(offer)).toEqual([id, v1 + 4]);
  const refresh = responseTo(m, 6, "UPDATE")!.text;
  expect(refresh).toMatch(/^SIP\/2.0 200/);
  expect(refresh).toMatch(/^Content-Length:\s*0$/m);
  expect(responseTo(m, 7, "INVITE")!.status).toBe(488);
  const r420 = responseTo(m, 8, "OPTIONS")!.text;
  expect(r420).toMatch(/^SIP\/2.0 420/);
  expect(r420).toMatch(/^Unsupported:\s*100rel$/m);
  expect(responseTo(m, 9, "BYE")!.status).toBe(200);

  // The wire: when each in-dialog step took effect, and the agent's RTP to the caller around it.
  const sip = datagrams.filter((d) => d.srcPort === agent.sipPort || d.dstPort === agent.sipPort);
  const at = (pattern: RegExp) => sip.find((d) => pattern.test(new TextDecoder().decode(d.payload)))?.timeMs ?? NaN;
  const tHold = at(/^ACK [^]*CSeq: 2 ACK/);
  const tResume = at(/^ACK [^]*CSeq: 3 ACK/);
  const tCodec = at(/^SIP\/2.0 200[^]*CSeq: 4 UPDATE/);
  // The agent applies an offer before it answers, so a window that must not see the next step yet ends
  // when that step's request went out (the caller's ACK may lag the agent's 200 on a busy machine).
  const tResumeReq = at(/^INVITE [^]*CSeq: 3 INVITE/);
  const tCodecReq = at(/^UPDATE [^]*CSeq: 4 UPDATE/);
  const tBack = at(/^ACK [^]*CSeq: 5 ACK/);
  const tBye = at(/^BYE /);
  const times = { tHold, tResumeReq, tResume, tCodecReq, tCodec, tBack, tBye };
  for (const [k, t] of Object.entries(times)) expect(Number.isFinite(t), `${k} not seen in the capture`).toBe(true);
  const ours = datagrams.filter((d) => d.dstPort === media && d.srcPort >= agent.rtpStart && d.srcPort <= agent.rtpEnd);
  const pts = (from: number, to: number) => ours.filter((d) => d.timeMs > from && d.timeMs < to).map((d) => d.payload[1]! & 0x7f);
  const flow = sip
    .filter((d) => d.timeMs >= tHold - 50 && d.timeMs <= tCodecReq + 50)
    .map((d) => `${Math.round(d.timeMs - tHold)}ms ${d.srcPort === agent.sipPort ? "<" : ">"} ${new TextDecoder().decode(d.payload).split("\r\n")[0]} ${/CSeq: [^\r]*/.exec(new TextDecoder().decode(d.payload))?.[0]}`)
    .join("; ");
  const why = (what: string) => `${what}; times ${JSON.stringify(times)}; agent RTP at ${JSON.stringify(ours.map((d) => Math.round(d.timeMs)).filter((_, i, a) => i === 0 || i === a.length - 1))}`;
  const held = ours.filter((d) => d.timeMs > tHold + 100 && d.timeMs < tResumeReq);
  const heldInfo = held.slice(0, 5).map((d) => `${Math.round(d.timeMs - tHold)}ms pt${d.payload[1]! & 0x7f} seq${(d.payload[2]! << 8) | d.payload[3]!} from ${d.srcPort}`);
  expect(held.length, why(`agent RTP while held: ${held.length} e.g. ${heldInfo.join(", ")}`)).toBe(0); // held: silent
  // After the resume the agent sends again: PCMU until the UPDATE switched it to PCMA (PT 8), PCMU again
  // after the ACK's answer. (Counts are kept loose: a starved 2-core box can stall the agent for seconds.)
  const resumed = pts(tResume, tCodecReq);
  expect(new Set(resumed), why("PT after resume")).toEqual(new Set(resumed.length ? [0] : []));
  expect(pts(tResume, tBack).length, why(`agent RTP after resume; sip ${flow}`)).toBeGreaterThan(0);
  const pcma = pts(tCodec + 100, tBack - 50);
  expect(pcma.length, why(`agent RTP after the codec change: ${pcma.length}`)).toBeGreaterThan(0);
  expect(new Set(pcma)).toEqual(new Set([8]));
  const back = pts(tBack + 100, tBye);
  expect(back.length, why(`agent RTP after the ACK's answer: ${back.length}`)).toBeGreaterThan(0);
  expect(new Set(back)).toEqual(new Set([0]));

  // RTCP (RFC 3550 §6): sender reports every 5 s from our RTP port + 1 to the caller's RTP port + 1.
  const ourRtpPort = ours[0]!.srcPort;
  const srs = datagrams.filter((d) => d.srcPort === ourRtpPort + 1 && d.dstPort === media + 1 && d.payload[1] === 200);
  expect(srs.length, "RTCP SRs in the capture").toBeGreaterThanOrEqual(1);
  expect(datagrams.some((d) => d.srcPort === ourRtpPort && d.dstPort === media && d.payload[1] === 200)).toBe(false);

  const logs = agent.logs();
  expect(logs.some((l) => l.msg === "call held by the peer")).toBe(true);
  expect(logs.some((l) => l.msg === "call resumed by the peer")).toBe(true);
  // The conversation paused with the hold and continued after it (AgentCall.hold/resume).
  expect(logs.some((l) => l.msg === "conversation on hold")).toBe(true);
  expect(logs.some((l) => l.msg === "conversation resumed")).toBe(true);
}, 90_000);

test.skipIf(missing.length > 0)("a 3.5 KB INVITE with a multipart/mixed body (SDP + ISUP) and odd headers is answered from its SDP part", async () => {
  const r = await runSipp({ scenario: "big-multipart", target: `127.0.0.1:${agent.sipPort}`, pauseMs: 500, timeoutMs: 20_000 });
  expect(r.exitCode, describeSipp(r)).toBe(0);
  const invite = r.messages.find((x) => x.direction === "sent" && x.method === "INVITE")!;
  expect(new TextEncoder().encode(invite.text).length).toBeGreaterThan(3000);
  const ok = responseTo(r.messages, 1, "INVITE")!.text;
  expect(mline(ok)).toBe("8 101"); // the SDP part's first codec, PCMA
  expect(ok).toMatch(/^Content-Type:\s*application\/sdp$/m);
}, 40_000);

test.skipIf(missing.length > 0)("session timer (RFC 4028): 422 below Min-SE, then the refresher stated in the 200, a refresh by UPDATE, and refreshes without Session-Expires still answered with the interval", async () => {
  const r = await runSipp({ scenario: "session-timer", target: `127.0.0.1:${agent.sipPort}`, keys: { audio: `${silenceFile(1, "mulaw")},-1,0` }, pauseMs: 500, timeoutMs: 20_000 });
  expect(r.exitCode, describeSipp(r)).toBe(0);
  const r422 = responseTo(r.messages, 1, "INVITE")!.text;
  expect(r422).toMatch(/^SIP\/2.0 422/);
  expect(r422).toMatch(/^Min-SE:\s*90$/m);
  const ok = responseTo(r.messages, 2, "INVITE")!.text;
  expect(ok).toMatch(/^Session-Expires:\s*90;refresher=uac$/m);
  expect(ok).toMatch(/^Require:\s*timer$/m);
  const upd = responseTo(r.messages, 3, "UPDATE")!.text;
  expect(upd).toMatch(/^SIP\/2.0 200/);
  expect(upd).toMatch(/^Session-Expires:\s*90;refresher=uac$/m);
  // Refreshes without Session-Expires: a 200 without it would tell the caller the timer is off (§7.2)
  // while the agent still ends the call at its expiry; it states the interval instead (§9).
  const hold = responseTo(r.messages, 4, "INVITE")!.text;
  expect(hold).toMatch(/^SIP\/2.0 200/);
  expect(hold).toMatch(/^Session-Expires:\s*90;refresher=uac$/m);
  expect(hold).toMatch(/^Require:\s*timer$/m);
  const bare = responseTo(r.messages, 5, "UPDATE")!.text;
  expect(bare).toMatch(/^SIP\/2.0 200/);
  expect(bare).toMatch(/^Session-Expires:\s*90;refresher=uas$/m);
  expect(bare).not.toMatch(/^Require:/m);
}, 40_000);

test.skipIf(missing.length > 0)("RTP timeout: no BYE during a hold longer than RTP_TIMEOUT_S; BYE after RTP_TIMEOUT_S of silence once resumed, reason recorded", async () => {
  const quiet = await startAgent({ RTP_TIMEOUT_S: "2", RTP_HOLD_TIMEOUT_S: "30" });
  try {
    const r = await runSipp({ scenario: "rtp-timeout", target: `127.0.0.1:${quiet.sipPort}`, pauseMs: 3500, timeoutMs: 40_000 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const sent = (re: RegExp) => r.messages.find((x) => re.test(x.text))?.time ?? "";
    const resumedAt = Date.parse(sent(/^ACK [^]*CSeq: 3 ACK/m).replace(" ", "T") + "Z");
    const byeAt = Date.parse(r.messages.find((x) => x.direction === "received" && x.method === "BYE")!.time.replace(" ", "T") + "Z");
    expect(byeAt - resumedAt).toBeGreaterThanOrEqual(1900);
    const calls = await quiet.get("/calls");
    expect(calls.recent[0].endReason).toBe("rtp_timeout");
  } finally {
    await quiet.stop();
  }
}, 60_000);

test.skipIf(missing.length > 0)("media moved by re-INVITE: our RTP goes to the new port from the 200 on; a late packet from the old port does not pull it back", async () => {
  const seen = { a: [] as number[], b: [] as number[] };
  const bind = (k: "a" | "b") =>
    Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: () => void seen[k].push(performance.now()) } });
  const [a, b] = [await bind("a"), await bind("b")];
  const logsBefore = agent.logs().length;
  const sipp = runSipp({
    scenario: "media-move",
    target: `127.0.0.1:${agent.sipPort}`,
    keys: { port_a: String(a.port), port_b: String(b.port) },
    pauseMs: 2500,
    timeoutMs: 40_000,
  });
  const newLogs = () => agent.logs().slice(logsBefore);
  let seq = 1000;
  const packet = () => {
    const p = new Uint8Array(12 + 160).fill(0xff);
    p.set([0x80, 0, (seq >> 8) & 0xff, seq & 0xff, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
    new DataView(p.buffer).setUint32(4, seq * 160);
    seq++;
    return p;
  };
  try {
    const answered = await waitFor(async () => newLogs().find((l) => l.msg === "call answered"), 15_000, "the call answered");
    const agentRtp = answered.rtpPort as number;
    let from = a;
    const timer = setInterval(() => from.send(packet(), agentRtp, "127.0.0.1"), 20);
    try {
      await waitFor(async () => newLogs().some((l) => l.msg === "media renegotiated" && l.remotePort === b.port), 20_000, "the move applied");
      const movedAt = performance.now();
      // One late packet of the old stream, then the caller's media comes from the new port.
      a.send(packet(), agentRtp, "127.0.0.1");
      from = b;
      await Bun.sleep(1500);
      const aAfter = seen.a.filter((t) => t > movedAt + 100).length;
      const bAfter = seen.b.filter((t) => t > movedAt).length;
      expect(bAfter, "agent RTP at the new port").toBeGreaterThan(10);
      expect(aAfter, "agent RTP still at the old port after the move").toBe(0);
    } finally {
      clearInterval(timer);
    }
    const r = await sipp;
    expect(r.exitCode, describeSipp(r)).toBe(0);
  } finally {
    a.close();
    b.close();
  }
}, 60_000);
