/**
 * A whole call through the compiled agent with the three cloud providers replaced by their protocol
 * fakes (tests/fakes): SIPp calls, speaks one sentence (flite voice), listens, hangs up.
 *
 * Checks what each provider was sent (Deepgram: μ-law 8 kHz, model, `Token` auth, the caller's bytes
 * unchanged; Gemini: the system instruction from models/prompts/inbound.md and the history with the
 * caller's words; Cartesia: the reply's sentences on one context with `continue`, then a cancel on
 * barge-in), what the caller heard (greeting, then reply — the fake's exact audio bytes, in order) and
 * the per-turn latency the agent recorded (GET /calls/:id), cross-checked against the capture.
 *
 * Two calls run side by side, each with its own fakes and agent: the plain call and the barge-in call.
 * The barge-in call's agent runs Silero on its VAD worker thread (VAD_WORKER=on, VAD_WORKER_NICE=5):
 * the thread starts inside the binary, at the nice value asked, before the call, and the barge-in holds.
 */
import { DTMF_SYSTEM_NOTE } from "../../src/providers/dtmf-text.ts";
import { PCMU_SILENCE } from "../../src/media/g711.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { saveArtifactWav } from "../support/wav.ts";
import { stopAllManaged } from "../support/process.ts";
import { startAgent, type RunningAgent } from "./agent.ts";
import {
  agentTalkspurts,
  allContexts,
  arrivalOfByte,
  contextAudio,
  FAKE_KEYS,
  FAKE_VOICE_ID,
  indexOfBytes,
  phraseTimes,
  placeCall,
  repeatLine,
  startCloudFakes,
  type CloudFakes,
  type PlacedCall,
} from "./cloud-support.ts";

const CALLER_LINE = "I would like to book a table for two";
const GREETING = ["Hello, thank you for calling. ", "How can I help you today?"];
const REPLY = ["Certainly. ", "A table for two people, at what time would you like to come in tonight?"];
/** About 6 s of the fake's tone (5 ms per character), streamed slower than real time only a little. */
const LONG_REPLY = ["Certainly. ", `${"We have many tables free tonight, at six, at seven, at eight and at nine. ".repeat(15)}`];
/** The system instruction: the prompt file plus the note on key presses (src/cli/prompts.ts). */
const INBOUND_PROMPT = `${readFileSync("models/prompts/inbound.md", "utf8").trimEnd()}\n\n${DTMF_SYSTEM_NOTE}\n`;

/** Switches the Gemini fake's reply once the greeting request has arrived. */
async function replyAfterGreeting(f: CloudFakes, reply: string[]): Promise<void> {
  while (f.gemini.requests.length < 1) await Bun.sleep(10);
  f.gemini.setReply(reply.map((t) => [{ text: t }]));
}

let plain: { fakes: CloudFakes; agent: RunningAgent; call: PlacedCall };
let barge: { fakes: CloudFakes; agent: RunningAgent; call: PlacedCall };
let dtx: { fakes: CloudFakes; agent: RunningAgent; call: PlacedCall };

beforeAll(async () => {
  const run = async (reply: string[], phrases: Array<string | { silenceMs: number }>, chunkDelayMs: number, gapMs: number, silentWithoutPackets = false, env: Record<string, string> = {}) => {
    const fakes = startCloudFakes({ script: repeatLine(CALLER_LINE, 10), reply: GREETING });
    fakes.cartesia.setMode({ chunkDelayMs });
    const agent = await startAgent({ ...fakes.env(), ...env });
    const call = await placeCall(agent, { phrases, gapMs, listenMs: 3500, silentWithoutPackets, during: () => replyAfterGreeting(fakes, reply) });
    return { fakes, agent, call };
  };
  [plain, barge, dtx] = await Promise.all([
    run(REPLY, [`${CALLER_LINE}.`], 0, 700),
    // The caller speaks again ~1.5 s into the 6 s reply (chunks of 40 ms arrive every 30 ms).
    run(LONG_REPLY, [`${CALLER_LINE}.`, "Wait, sorry."], 30, 2600, false, { VAD_WORKER: "on", VAD_WORKER_NICE: "5" }),
    run(REPLY, [`${CALLER_LINE}.`], 0, 700, true),
  ]);
  saveArtifactWav("cloud-call-heard", plain.call.heard);
  saveArtifactWav("cloud-call-barge-in-heard", barge.call.heard);
}, 60_000);

afterAll(async () => {
  await Promise.all([plain?.agent.stop(), barge?.agent.stop(), dtx?.agent.stop()]);
  await Promise.all([plain?.fakes.close(), barge?.fakes.close(), dtx?.fakes.close()]);
  await stopAllManaged();
});

describe("a call through SIPp with Deepgram, Gemini and Cartesia fakes", () => {
  test("the call is set up and torn down normally (INVITE/200/ACK … BYE/200)", () => {
    const { call } = plain;
    expect(call.sipp.exitCode, call.describe).toBe(0);
    const flow = call.sipp.messages.map((m) => `${m.direction} ${m.method ?? m.status}`);
    expect(flow.slice(-2), call.describe).toEqual(["sent BYE", "received 200"]);
    expect(call.record?.endReason).toBe("remote_bye");
    expect(call.record?.providers).toEqual({ stt: "deepgram (nova-2-phonecall)", llm: "gemini (gemini-2.0-flash)", tts: "cartesia (sonic-2)" });
  });

  test("Deepgram got the caller's μ-law bytes unchanged at 8 kHz, model nova-2-phonecall, Token auth", () => {
    const { fakes, call } = plain;
    expect(fakes.deepgram.connections).toHaveLength(1);
    const c = fakes.deepgram.connections[0]!;
    expect(c.path).toBe("/v1/listen");
    expect(c.headers.authorization).toBe(`Token ${FAKE_KEYS.deepgram}`);
    expect(c.params).toMatchObject({ model: "nova-2-phonecall", encoding: "mulaw", sample_rate: "8000", channels: "1" });
    // 200 ms (ten 20 ms RTP frames, DEEPGRAM_CHUNK_MS's default) per binary message, shorter only when what
    // was held went out before a Finalize or CloseStream; the phrase's bytes arrive exactly as SIPp sent them.
    expect(c.binary.every((b) => b.length > 0 && b.length % 160 === 0 && b.length <= 1600)).toBe(true);
    expect(c.binary.filter((b) => b.length === 1600).length).toBeGreaterThan(c.binary.length / 2);
    const ph = call.audio.phrases[0]!;
    const spoken = call.audio.bytes.subarray(Math.round(ph.startMs * 8), Math.round(ph.endMs * 8));
    expect(indexOfBytes(fakes.deepgram.audioOf(c), spoken)).toBeGreaterThanOrEqual(0);
    const finals = c.sent.filter((m: any) => m.type === "Results" && m.is_final && m.channel.alternatives[0].transcript);
    expect(finals.map((m: any) => m.channel.alternatives[0].transcript)).toEqual([CALLER_LINE]);
  });

  test("Gemini got the system instruction from inbound.md, then a history with the caller's words", () => {
    const { fakes } = plain;
    const reqs = fakes.gemini.requests;
    expect(reqs).toHaveLength(2);
    for (const r of reqs) {
      expect(r.path).toBe("/v1/models/gemini-2.0-flash:streamGenerateContent");
      expect(r.query.alt).toBe("sse");
      expect(r.headers["x-goog-api-key"]).toBe(FAKE_KEYS.gemini);
      expect(r.body.systemInstruction?.parts?.map((p) => p.text).join("")).toBe(INBOUND_PROMPT);
      expect(r.body.tools?.[0]?.functionDeclarations?.map((d) => d.name)).toEqual(["end_call", "send_dtmf"]);
    }
    const turns = (i: number) => reqs[i]!.body.contents!.map((c) => [c.role, c.parts!.map((p) => p.text).join("")]);
    expect(turns(0)).toEqual([["user", "(call connected)"]]);
    expect(turns(1)).toEqual([
      ["user", "(call connected)"],
      ["model", GREETING.join("").trim()],
      ["user", CALLER_LINE],
    ]);
  });

  test("Cartesia got each reply's sentences on one context with continue, on one socket for the call", () => {
    const { fakes } = plain;
    expect(fakes.cartesia.connections).toHaveLength(1);
    const conn = fakes.cartesia.connections[0]!;
    expect(conn.params).toMatchObject({ api_key: FAKE_KEYS.cartesia, cartesia_version: "2025-04-16" });
    const ctxs = allContexts(fakes.cartesia).map((x) => x.ctx);
    expect(ctxs.map((c) => c.transcripts)).toEqual([
      ["Hello, thank you for calling.", " How can I help you today?", ""],
      ["Certainly.", " A table for two people, at what time would you like to come in tonight?", ""],
    ]);
    for (const c of ctxs) {
      expect(c.requests.map((r) => r.continue)).toEqual([true, true, false]);
      expect(new Set(c.requests.map((r) => r.context_id))).toEqual(new Set([c.contextId]));
      expect(c.requests[0]).toMatchObject({
        model_id: "sonic-2",
        voice: { mode: "id", id: FAKE_VOICE_ID },
        output_format: { container: "raw", encoding: "pcm_mulaw", sample_rate: 8000 },
      });
      expect(c.done).toBe(true);
      expect(c.cancelled).toBe(false);
    }
    expect(conn.received.some((m) => m.cancel === true)).toBe(false);
  });

  test("the caller heard the greeting, then (after speaking) the reply: the fake's exact bytes, in order", () => {
    const { fakes, call } = plain;
    const [g, r] = allContexts(fakes.cartesia).map(({ conn, ctx }) => contextAudio(conn, ctx));
    const gAt = indexOfBytes(call.fromAgent, g!);
    const rAt = indexOfBytes(call.fromAgent, r!);
    expect(gAt, "greeting audio in the RTP").toBeGreaterThanOrEqual(0);
    expect(rAt, "reply audio in the RTP").toBeGreaterThan(gAt + g!.length - 1);
    const spurts = agentTalkspurts(call);
    expect(spurts, JSON.stringify(spurts)).toHaveLength(2);
    // 5 ms of tone per character: the talkspurts last as long as the text (±1 frame of padding).
    expect(Math.abs(spurts[0]!.bytes - g!.length)).toBeLessThan(160);
    expect(Math.abs(spurts[1]!.bytes - r!.length)).toBeLessThan(160);
    const spoken = phraseTimes(call, 0);
    expect(spurts[0]!.endMs).toBeLessThan(spoken.startMs);
    expect(arrivalOfByte(call, rAt)).toBeGreaterThan(spoken.endMs);
  });

  test("GET /calls/:id has the turns with latency in a sane order, matching the capture", () => {
    const { fakes, call } = plain;
    const turns = call.record.turns;
    expect(turns.map((t: any) => [t.speaker, t.text])).toEqual([
      ["agent", GREETING.join("").trim()],
      ["caller", CALLER_LINE],
      ["agent", REPLY.join("").trim()],
    ]);
    const l = turns[2].latency;
    for (const k of ["finalTranscriptMs", "firstTokenMs", "firstAudioMs", "firstRtpMs"]) expect(typeof l[k], k).toBe("number");
    expect(l.finalTranscriptMs).toBeGreaterThanOrEqual(0);
    expect(l.firstTokenMs).toBeGreaterThanOrEqual(l.finalTranscriptMs);
    expect(l.firstAudioMs).toBeGreaterThanOrEqual(l.firstTokenMs);
    expect(l.firstRtpMs).toBeGreaterThanOrEqual(l.firstAudioMs);
    expect(l.firstRtpMs).toBeLessThan(3000);
    // The greeting has no caller speech before it: no finalTranscriptMs, the other three in order.
    const g = turns[0].latency;
    expect(g.finalTranscriptMs).toBeUndefined();
    expect(g.firstTokenMs).toBeLessThanOrEqual(g.firstAudioMs);
    expect(g.firstAudioMs).toBeLessThanOrEqual(g.firstRtpMs);
    // firstRtpMs counts from the end of the caller's speech as the agent's VAD saw it; on the wire that
    // is the phrase's end (the VAD's onset/offset error is well under 300 ms for flite speech).
    const [, ctx] = allContexts(fakes.cartesia);
    const onWire = arrivalOfByte(call, indexOfBytes(call.fromAgent, contextAudio(ctx!.conn, ctx!.ctx))) - phraseTimes(call, 0).endMs;
    expect(Math.abs(onWire - l.firstRtpMs), `capture ${onWire.toFixed(0)} ms vs recorded ${l.firstRtpMs} ms`).toBeLessThan(300);
  });
});

describe("a caller that stops sending RTP while listening (silence suppression)", () => {
  test("the turn still ends: the final transcript is answered though no silent frames follow the speech", () => {
    // RFC 3551 §4.1 lets a sender stop sending during silence (and RFC 3389 comfort noise is optional):
    // the VAD and the STT would never hear the silence that ends speech. The agent puts silence frames
    // in place of the missing RTP (src/call/media.ts), so both hear it: Deepgram got more audio than
    // SIPp sent, ending in that silence.
    const { fakes, call } = dtx;
    expect(call.sipp.exitCode, call.describe).toBe(0);
    const c = fakes.deepgram.connections[0]!;
    const heard = fakes.deepgram.audioOf(c);
    const generated = heard.length - call.audio.bytes.length;
    expect(generated, "bytes Deepgram got beyond what SIPp sent").toBeGreaterThanOrEqual(8 * 1000);
    expect(heard.subarray(heard.length - 8 * 1000).every((b) => b === PCMU_SILENCE), "the last second Deepgram got is μ-law silence").toBe(true);
    // The line's final carries an end-of-speech signal: Deepgram's own endpointing heard that silence
    // (speech_final), or the VAD heard it first and the agent's Finalize got the answer (from_finalize;
    // Deepgram then sends speech_final false, https://developers.deepgram.com/docs/finalize). Which
    // comes first is a race between two detectors (the VAD's 160 ms pause, Deepgram's 300 ms
    // endpointing, each with its own idea of where the speech ended); either way the turn must end.
    const finals = c.sent.filter((m: any) => m.type === "Results" && m.is_final && m.channel.alternatives[0].transcript);
    const endSignal = (m: any) => (m.speech_final === true ? "speech_final" : m.from_finalize === true ? "from_finalize" : "none");
    expect(finals.map((m: any) => m.channel.alternatives[0].transcript)).toEqual([CALLER_LINE]);
    expect(endSignal(finals[0]), JSON.stringify(finals[0])).not.toBe("none");
    if (endSignal(finals[0]) === "from_finalize") expect(c.text.map((t) => JSON.parse(t).type)).toContain("Finalize");
    expect(call.record.turns.map((t: any) => [t.speaker, t.text]), JSON.stringify(call.record.turns)).toEqual([
      ["agent", GREETING.join("").trim()],
      ["caller", CALLER_LINE],
      ["agent", REPLY.join("").trim()],
    ]);
    const [, reply] = allContexts(fakes.cartesia);
    expect(indexOfBytes(call.fromAgent, contextAudio(reply!.conn, reply!.ctx))).toBeGreaterThanOrEqual(0);
  });
});

describe("provider sockets at hang-up", () => {
  test("after BYE the call's Deepgram and Cartesia sockets are closed (not left to idle out)", async () => {
    const { fakes } = plain;
    const closed = async (what: string, get: () => { code: number } | null) => {
      const end = Date.now() + 2000;
      while (!get() && Date.now() < end) await Bun.sleep(20);
      return `${what}: ${JSON.stringify(get())}`;
    };
    expect(await closed("deepgram", () => fakes.deepgram.connections[0]!.closed)).toBe(`deepgram: ${JSON.stringify({ code: 1000, reason: "done" })}`);
    // CartesiaTts keeps one socket per call and offers closeCall(callId) for the hang-up; otherwise it
    // stays open for idleCloseMs (60 s) after the call — one idle socket per finished call.
    expect(await closed("cartesia", () => fakes.cartesia.connections[0]!.closed)).toMatch(/^cartesia: \{"code":1000/);
  });
});

describe("barge-in with the cloud providers", () => {
  test("the barge-in agent's VAD worker thread was ready before the call, at nice +5 from the call thread, and never failed", () => {
    const logs = barge.agent.logs();
    const ready = logs.findIndex((l) => l.msg === "vad worker ready");
    expect(ready, "vad worker ready logged").toBeGreaterThanOrEqual(0);
    expect(ready).toBeLessThan(logs.findIndex((l) => l.msg === "call answered"));
    expect(logs.filter((l) => String(l.msg).startsWith("vad worker failed"))).toEqual([]);
    const pid = barge.agent.proc.pid;
    const { tid, nice } = logs[ready];
    expect(tid).not.toBe(pid);
    const niceOf = (t: number) => {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8");
      return Number(stat.slice(stat.lastIndexOf(") ") + 2).split(" ")[16]);
    };
    expect(niceOf(tid)).toBe(niceOf(pid) + 5);
    expect(nice).toBe(niceOf(tid));
  });

  test("the caller speaks over the reply: Cartesia gets a cancel for its context, the audio stops, the turn is marked interrupted", () => {
    const { fakes, call } = barge;
    expect(call.sipp.exitCode, call.describe).toBe(0);
    const ctxs = allContexts(fakes.cartesia);
    expect(ctxs.length, "greeting, interrupted reply, reply to the interruption").toBeGreaterThanOrEqual(3);
    const { conn, ctx } = ctxs[1]!;
    expect(ctx.transcripts[0]).toBe("Certainly.");
    expect(ctx.cancelled).toBe(true);
    expect(conn.received.filter((m) => m.cancel === true && m.context_id === ctx.contextId)).toHaveLength(1);
    // It was still streaming: the fake had not finished the context when the cancel came.
    expect(ctx.done).toBe(false);
    // On the wire: the reply's talkspurt ends soon after the interruption began.
    const interruptAt = phraseTimes(call, 1).startMs;
    const spurts = agentTalkspurts(call);
    const cut = spurts.find((s) => s.startMs < interruptAt && s.endMs > interruptAt - 20);
    expect(cut, `a talkspurt spanning the interruption: ${JSON.stringify(spurts)} at ${interruptAt}`).toBeDefined();
    expect(cut!.endMs - interruptAt).toBeLessThan(800);
    expect(cut!.bytes).toBeLessThan(contextAudio(conn, ctx).length + 1);
    const rec = call.record;
    expect(rec.bargeIns).toBeGreaterThanOrEqual(1);
    const interrupted = rec.turns.find((t: any) => t.speaker === "agent" && t.interrupted);
    expect(interrupted, JSON.stringify(rec.turns)).toBeDefined();
    expect(LONG_REPLY.join("").startsWith(interrupted.generatedText ?? interrupted.text)).toBe(true);
    expect(interrupted.text.length).toBeLessThan(LONG_REPLY.join("").trim().length);
  });

  test("the interrupted turn records about what was played, though the TTS audio lagged behind the text", () => {
    // The fake speaks 5 ms (40 samples) per character, so the played bytes say how many characters the
    // caller heard. The LLM gave all the text at once; Cartesia streamed its audio at ~1.3× real time.
    const { fakes, call } = barge;
    const { conn, ctx } = allContexts(fakes.cartesia)[1]!;
    const interruptAt = phraseTimes(call, 1).startMs;
    const cut = agentTalkspurts(call).find((s) => s.startMs < interruptAt && s.endMs > interruptAt - 20)!;
    const heardChars = cut.bytes / 40;
    const interrupted = call.record.turns.find((t: any) => t.speaker === "agent" && t.interrupted);
    const msg = `played ${cut.bytes} B ≈ ${heardChars.toFixed(0)} chars of ${LONG_REPLY.join("").length} (Cartesia had sent ${ctx.bytesSent} B); recorded ${interrupted.text.length} chars as heard`;
    expect(Math.abs(interrupted.text.length - heardChars), msg).toBeLessThan(0.25 * heardChars + 20);
    void conn;
  });
});
