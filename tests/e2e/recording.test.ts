/**
 * RECORDING=on with the compiled agent and a real SIPp call (cloud providers as local fakes): the
 * stereo WAV of the call holds on the left what SIPp sent and on the right what the agent sent (both
 * from the loopback capture; normalized cross-correlation of a speech stretch of each), at the same
 * place in time as in the capture, and lasts as long as the call. The call record lists it, the API
 * serves it, and a call without RECORDING leaves no file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { matchAudio, segmentTalkspurts } from "../support/audio-match.ts";
import { missingTools } from "../support/process.ts";
import { assembleByTimestamp } from "../support/rtp-streams.ts";
import { placeCall, repeatLine, startCloudFakes, type CloudFakes, type PlacedCall } from "./cloud-support.ts";
import { startAgent, type RunningAgent } from "./agent.ts";

const CALLER_LINE = "I would like to book a table for two";
const skip = missingTools(["sipp", "flite", "sox", "dumpcap"]).length > 0;

let fakes: CloudFakes;
let agent: RunningAgent;
let call: PlacedCall;
let wav: { left: Int16Array; right: Int16Array; rate: number; channels: number };
let recordingsBefore: string[];

function decodeStereo(b: Uint8Array) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const channels = v.getUint16(22, true);
  const rate = v.getUint32(24, true);
  const n = v.getUint32(40, true) / 4;
  const left = new Int16Array(n);
  const right = new Int16Array(n);
  for (let i = 0; i < n; i++) (left[i] = v.getInt16(44 + i * 4, true)), (right[i] = v.getInt16(46 + i * 4, true));
  return { left, right, rate, channels };
}

beforeAll(async () => {
  if (skip) return;
  fakes = startCloudFakes({ script: repeatLine(CALLER_LINE, 10), reply: ["Hello, thank you for calling. ", "How can I help you today?"] });
  agent = await startAgent({ ...fakes.env(), RECORDING: "on" });
  recordingsBefore = existsSync(join(agent.dataDir, "recordings")) ? readdirSync(join(agent.dataDir, "recordings")) : [];
  // The reply differs from the greeting, so each stretch of the agent's speech occurs once.
  const reply = async () => {
    while (fakes.gemini.requests.length < 1) await Bun.sleep(10);
    fakes.gemini.setReply([[{ text: "Certainly. " }], [{ text: "At what time would you like to come in tonight?" }]]);
  };
  call = await placeCall(agent, { phrases: [`${CALLER_LINE}.`], gapMs: 700, listenMs: 3500, during: reply });
  const res = await fetch(`http://127.0.0.1:${agent.httpPort}${call.record.recording}`);
  expect(res.headers.get("content-type")).toBe("audio/wav");
  wav = decodeStereo(new Uint8Array(await res.arrayBuffer()));
}, 90_000);

afterAll(async () => {
  await agent?.stop();
  await fakes?.close();
});

/** The first speech stretch of `pcm` (up to `maxMs`), and where it starts (samples). */
function speech(pcm: Int16Array, maxMs = 1500): { at: number; pcm: Int16Array } {
  const spurt = segmentTalkspurts(pcm)[0]!;
  const at = Math.round(spurt.startMs * 8);
  return { at, pcm: pcm.subarray(at, at + Math.min(maxMs, spurt.endMs - spurt.startMs) * 8) };
}

describe.skipIf(skip)("RECORDING=on: a SIPp call's stereo WAV", () => {
  test("is listed on the call record, served by the API, and is 8 kHz stereo", () => {
    expect(call.sipp.exitCode).toBe(0);
    expect(recordingsBefore).toEqual([]);
    expect(call.record.recording).toBe(`/calls/${call.record.id}/recording`);
    expect(existsSync(join(agent.dataDir, "recordings", `${call.record.id}.wav`))).toBe(true);
    expect(wav.rate).toBe(8000);
    expect(wav.channels).toBe(2);
  });

  test("left = what SIPp sent, right = what the agent sent (correlation ≥ 0.9), aligned within 250 ms of the capture", () => {
    const sent = assembleByTimestamp(call.callerStream!);
    const callerSpeech = speech(sent);
    const left = matchAudio(wav.left, callerSpeech.pcm);
    expect(left.score).toBeGreaterThan(0.9);
    const agentSpeech = speech(call.heard);
    const right = matchAudio(wav.right, agentSpeech.pcm);
    expect(right.score).toBeGreaterThan(0.9);
    // The two channels keep the capture's relative timing (wall clock alignment of both sides). Slack:
    // the capture side is laid out by RTP timestamp, the recording by the wall clock; on a loaded
    // machine (load average 8) a stalled pacer put them 122 ms apart. A side misplaced by its
    // silences or by the other side's start would be off by seconds.
    const captured = (agentSpeech.at + (call.stream!.audioPackets[0]!.arrivalMs - call.callerStream!.audioPackets[0]!.arrivalMs) * 8 - callerSpeech.at) / 8;
    const recorded = right.offsetMs - left.offsetMs;
    expect(Math.abs(recorded - captured), `recorded ${recorded} ms vs captured ${captured} ms (scores ${left.score}, ${right.score})`).toBeLessThan(250);
    // The other channel does not carry it (no mix-up of the sides).
    expect(matchAudio(wav.right, callerSpeech.pcm).score).toBeLessThan(0.5);
  });

  test("lasts as long as the call (media start to hang-up, within 500 ms)", () => {
    const wavMs = (wav.left.length / 8000) * 1000;
    expect(Math.abs(wavMs - call.record.durationMs)).toBeLessThan(500);
  });
});

describe.skipIf(skip)("what the call cost, on the stored record and in /metrics", () => {
  test("STT seconds ≈ the caller audio the agent got, LLM tokens from Gemini's usageMetadata, TTS characters of what was said", async () => {
    const u = call.record.usage;
    expect(u).toBeDefined();
    // Media ran from the ACK to the BYE: the STT got about that much caller audio (never while ringing).
    const mediaS = call.record.durationMs / 1000;
    expect(u.sttAudioS).toBeGreaterThan(mediaS - 1.5);
    expect(u.sttAudioS).toBeLessThanOrEqual(mediaS + 0.5);
    const agentTurns = (call.record.turns as any[]).filter((t) => t.speaker === "agent");
    const requests = fakes.gemini.requests.length;
    expect(u.llmInputTokens).toBe(10 * requests); // the fake reports promptTokenCount 10 per request
    expect(u.llmOutputTokens).toBeGreaterThan(0);
    expect(u.ttsChars).toBe(agentTurns.reduce((n, t) => n + (t.usage?.ttsChars ?? 0), 0));
    expect(u.ttsChars).toBeGreaterThanOrEqual("Hello, thank you for calling. How can I help you today?".length - 2);
    for (const t of agentTurns) expect(t.usage?.llmInputTokens).toBe(10);
    const metrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
    expect(metrics).toContain(`voice_agent_llm_tokens_total{provider="gemini",kind="input"} ${u.llmInputTokens}`);
    expect(metrics).toContain(`voice_agent_tts_characters_total{provider="cartesia"} ${u.ttsChars}`);
    expect(metrics).toMatch(/voice_agent_stt_audio_seconds_total\{provider="deepgram"\} [1-9]/);
  });
});

describe.skipIf(skip)("the log of the agent's side", () => {
  test("one 'agent turn' line per agent reply with its latency, our callId and the SIP Call-ID", () => {
    const agentTurns = (call.record.turns as any[]).filter((t) => t.speaker === "agent");
    const lines = agent.logs().filter((l) => l.msg === "agent turn" && l.callId === call.record.id);
    expect(lines.length).toBe(agentTurns.length);
    expect(lines.every((l) => l.sipCallId === call.record.sipCallId)).toBe(true);
    expect(lines.map((l) => l.pii?.text)).toEqual(agentTurns.map((t) => t.text));
    const reply = lines.find((l) => l.latencyMs?.finalTranscriptMs !== undefined);
    expect(Object.keys(reply.latencyMs)).toEqual(expect.arrayContaining(["finalTranscriptMs", "firstAudioMs", "firstRtpMs", "firstTokenMs", "endMs"]));
  });
});
