/**
 * The first real call: SIPp calls the compiled agent on the offline default pipeline (pocketsphinx,
 * the scripted receptionist, flite), sends μ-law speech, listens and hangs up. Checks the SDP answer,
 * audio both ways, BYE → 200, the caller's words recognised well enough for the script to take the
 * billing branch (GET /calls), and that the audio the agent sent (captured on loopback) contains the
 * greeting and the scripted replies — compared with the synthesis of their text, not just "not silent".
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { createFliteTts } from "../../src/providers/offline";
import { SentenceSplitter } from "../../src/pipeline/sentence-splitter";
import { RtpCapture } from "../support/capture.ts";
import { describeSipp, runSipp, tellSippToHangUp, type SippResult } from "../support/sipp.ts";
import { silenceFile, synthesizeCallerAudio } from "../support/speech.ts";
import { assembleByTimestamp, streamsByPort } from "../support/rtp-streams.ts";
import { g711RoundTrip } from "../support/g711.ts";
import { matchAudio, segmentTalkspurts } from "../support/audio-match.ts";
import { saveArtifactWav } from "../support/wav.ts";
import { freeUdpPort, freeUdpPortRange } from "../support/ports.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const GREETING =
  "Hello, thank you for calling Example Medical Practice. This is the automated receptionist. May I have your name, please?";

let agent: RunningAgent;
let sipp: SippResult;
let heard: Int16Array;
let sentByCaller: Int16Array;
let record: any;

/**
 * The agent's own synthesis of `text` as the caller receives it (8 kHz, through μ-law): cut into the
 * same chunks the agent streams to its TTS.
 */
async function agentVoice(text: string): Promise<Int16Array> {
  const tts = createFliteTts();
  const s = tts.open({ signal: AbortSignal.timeout(20_000), callId: "expected" });
  const splitter = new SentenceSplitter();
  for (const chunk of [...splitter.push(text), ...splitter.flush()]) s.pushText(chunk);
  s.end();
  const parts: Int16Array[] = [];
  for await (const p of s.audio) parts.push(p);
  const pcm = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) (pcm.set(p, o), (o += p.length));
  return g711RoundTrip(pcm, "mulaw");
}

beforeAll(async () => {
  // IDLE_PROMPT_S: the long silences below must not draw "Are you still there?" (default 10 s).
  agent = await startAgent({ IDLE_PROMPT_S: "60" });
  // The caller takes turns (tests/scenarios/inbound-call-turns.xml): silent through the greeting, each
  // phrase once the agent's turn before it is over ("agent turn" is logged when a reply has been played),
  // the BYE after the third reply. Timed by the agent, not by fixed silences: on a loaded 2-core machine
  // the offline synthesis stalled 3 s between greeting sentences (a caller at a fixed 9.5 s cut the
  // greeting short) and a reply took over 12 s to finish.
  const say = (text: string) => synthesizeCallerAudio([text], { voice: "awb", leadSilenceMs: 0, trailSilenceMs: 60_000 });
  const [phrase1, phrase2] = [await say("My name is John Smith."), await say("I have a question about my bill.")];
  const media = await freeUdpPortRange(4);
  const cap = await RtpCapture.start({ portRanges: [[media, media + 3], [agent.rtpStart, agent.rtpEnd]], ports: [agent.sipPort] });
  const sippPort = await freeUdpPort();
  const run = runSipp({
    scenario: "inbound-call-turns",
    target: `127.0.0.1:${agent.sipPort}`,
    localPort: sippPort,
    mediaPort: media,
    audioFile: silenceFile(60),
    keys: { phrase1: `${resolve(phrase1.path)},1,0`, phrase2: `${resolve(phrase2.path)},1,0` },
    timeoutMs: 150_000,
    extraArgs: ["-cid_str", `inbound-${sippPort}-%u@%s`],
  });
  const nextStep = () => tellSippToHangUp(sippPort, `inbound-${sippPort}-1@127.0.0.1`);
  for (let turn = 1; turn <= 3; turn++) {
    await waitFor(() => agent.logs().filter((l) => l.msg === "agent turn").length >= turn, 45_000, `the agent's turn ${turn} played`);
    await Bun.sleep(800);
    await nextStep(); // phrase 1, phrase 2, then the BYE
  }
  sipp = await run;
  const res = await cap.stop();
  const toCaller = streamsByPort(res.rtpStreams, media).filter((s) => s.src.port >= agent.rtpStart && s.src.port <= agent.rtpEnd);
  const fromCaller = streamsByPort(res.rtpStreams, media, { from: true });
  heard = toCaller[0] ? assembleByTimestamp(toCaller[0]) : new Int16Array(0);
  sentByCaller = fromCaller[0] ? assembleByTimestamp(fromCaller[0]) : new Int16Array(0);
  saveArtifactWav("inbound-call-agent", heard);
  const calls = await waitFor(async () => {
    const c = await agent.get("/calls");
    return c.recent.length > 0 && c;
  }, 10_000, "the call to end");
  record = calls.recent[0];
}, 160_000);

afterAll(async () => {
  await agent?.stop();
});

describe("a call to the compiled agent (offline pipeline)", () => {
  test("SIPp's call is answered with an SDP answer and its BYE gets 200", () => {
    expect(sipp.exitCode, describeSipp(sipp)).toBe(0);
    const ok = sipp.messages.find((m) => m.direction === "received" && m.text.startsWith("SIP/2.0 200") && /INVITE/.test(m.text));
    expect(ok?.text).toMatch(/m=audio \d+ RTP\/AVP 0 101/);
    expect(ok?.text).toMatch(/a=ptime:20/);
    expect(sipp.messages.some((m) => m.direction === "received" && /^SIP\/2.0 200/.test(m.text) && /CSeq: \d+ BYE/i.test(m.text))).toBe(true);
    expect(record.endReason).toBe("remote_bye");
  });

  test("audio flows both ways, for the whole call", () => {
    // From the caller's ACK to its BYE (SIPp's own clock), as the greeting and two replies took.
    const at = (re: RegExp) => Date.parse(sipp.messages.find((m) => m.direction === "sent" && re.test(m.firstLine))!.time.replace(" ", "T") + "Z");
    const callS = (at(/^BYE /) - at(/^ACK /)) / 1000;
    expect(callS).toBeGreaterThan(10); // greeting ~7 s, two replies of 3–6 s
    expect(sentByCaller.length / 8000).toBeGreaterThan(callS * 0.8);
    expect(heard.length / 8000).toBeGreaterThan(callS * 0.8);
    expect(segmentTalkspurts(heard).length).toBeGreaterThanOrEqual(3);
  });

  test("the caller's words were recognised well enough for the script to take the billing branch", () => {
    const caller = record.turns.filter((t: any) => t.speaker === "caller").map((t: any) => t.text.toLowerCase());
    const agentSaid = record.turns.filter((t: any) => t.speaker === "agent").map((t: any) => t.text);
    expect(caller.length, JSON.stringify(record.turns)).toBeGreaterThanOrEqual(2);
    expect(caller[0]).toContain("john");
    expect(caller.join(" ")).toMatch(/bill/);
    expect(agentSaid[0]).toBe(GREETING);
    expect(agentSaid[1]).toMatch(/^Thank you, John.*What are you calling about today\?$/);
    expect(agentSaid[2]).toMatch(/That is a question for our billing office\. Is that right\?$/);
    for (const t of record.turns.filter((t: any) => t.speaker === "agent" && t.index > 0)) {
      expect(t.latency.firstRtpMs).toBeGreaterThan(0);
      expect(t.latency.firstRtpMs).toBeLessThan(6000);
    }
  });

  test("the audio sent contains the greeting and the scripted replies (against their synthesis)", async () => {
    const agentSaid = record.turns.filter((t: any) => t.speaker === "agent").map((t: any) => t.text);
    for (const text of agentSaid.slice(0, 3)) {
      const expected = await agentVoice(text);
      const m = matchAudio(heard, expected);
      expect(m.score, `"${text}" at ${m.offsetMs} ms`).toBeGreaterThan(0.9);
    }
    const other = await agentVoice("Our billing office is closed on Sundays, please call back on Monday morning.");
    expect(matchAudio(heard, other).score).toBeLessThan(0.6);
  });
});
