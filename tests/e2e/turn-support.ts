/**
 * Tooling for the turn-taking / barge-in end-to-end tests (tests/e2e/turn-*.test.ts) and the barge-in
 * benchmark (scripts/bench-bargein.ts): real calls from SIPp to the compiled agent, with
 *  - the LLM replaced by the Gemini fake, so the agent's words are long and known (one reply text per
 *    LLM request, in order), and the real offline flite TTS, so the agent's audio is real speech;
 *  - the STT replaced by the Deepgram fake, with transcripts injected by `SttDriver` when the call's
 *    audio position (bytes received by the fake ÷ 8) passes a planned point: "words" or "no words"
 *    per caller sound is decided by the test, not by a recogniser;
 *  - caller audio built on a timeline (`buildCallerAudio`): flite speech, sox noise bursts, cough-like
 *    bursts, or any PCM (the agent's own greeting, attenuated and delayed, as echo);
 *  - the capture on `lo` read back as packet arrival times of both directions (`analyseCall`).
 *
 * Time base: the arrival of the first caller RTP packet on `lo` is t = 0. A caller packet n carries the
 * audio file's ms [20n, 20n + 20), so the file's timeline and the call's are tied packet by packet.
 * The STT fake receives exactly the caller's frames, so its audio position is the file's position too.
 *
 *   const rig = await startTurnRig();
 *   const caller = await buildCallerAudio([{ kind: "speech", atMs: 2000, text: "Wait, stop." }], 8000);
 *   const call = await runTurnCall(rig, caller, { replies: [LONG_GREETING, REPLY], listenMs: 4000 });
 *   const a = analyseCall(call);            // a.agentSpurts, a.arrivalOfFileMs(ms), a.stopAfter(ms)
 *   call.record.turns, call.record.bargeIns // GET /calls/:id
 *
 * Units: ms for times, 8000 Hz mono PCM16 for audio, G.711 μ-law on the wire (PT 0).
 */
import type { udp } from "bun";
import { startFakeDeepgram, type FakeDeepgram, type FakeDeepgramConnection } from "../fakes/deepgram.ts";
import { startFakeGemini, type FakeGemini } from "../fakes/gemini.ts";
import { RtpCapture } from "../support/capture.ts";
import { decodeG711, encodeG711, G711_SILENCE } from "../support/g711.ts";
import { freeUdpPortRange, LOOPBACK } from "../support/ports.ts";
import { buildRtp, parseRtp } from "../support/rtp.ts";
import { streamsByPort, type CapturedRtpPacket, type RtpStream } from "../support/rtp-streams.ts";
import { describeSipp, runSipp, type SippResult } from "../support/sipp.ts";
import { speechPcm8k, writeG711File, type FliteVoice } from "../support/speech.ts";
import { createFliteTts } from "../../src/providers/flite/flite-tts.ts";
import { SentenceSplitter } from "../../src/pipeline/sentence-splitter.ts";
import { concatInt16 } from "../../src/util/concat.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

export const RATE = 8000;
const FRAME_MS = 20;
const FAKE_KEY = "turn-fake-key";
/** Deepgram's `endpointing` (ms) as the agent requests it: a final with speech_final comes this long after speech. */
export const STT_ENDPOINTING_MS = 300;
/** Audio between two empty interim results from the scripted STT (see SttDriver), ms. */
const HEARTBEAT_MS = 1000;

// ---------------------------------------------------------------- the rig: fakes + agent

/** One LLM reply: its text, and whether the model also calls the `end_call` tool. */
export type Reply = string | { text: string; endCall?: boolean };

export interface TurnRig {
  agent: RunningAgent;
  gemini: FakeGemini;
  deepgram: FakeDeepgram;
  stt: SttDriver;
  /** LLM requests received so far (all calls). */
  readonly llmRequests: number;
  /** Replies for the next call: its LLM request i (the first is the greeting) gets `replies[i]`; the last repeats. */
  setReplies(replies: Reply[]): void;
  stop(): Promise<void>;
}

export interface TurnRigOptions {
  /** Replies for the first call (see `TurnRig.setReplies`). */
  replies?: Reply[];
  /** More agent environment (wins over the rig's). */
  env?: Record<string, string>;
  /**
   * The scripted STT answers the agent's `Finalize` as the service does (SttDriver): this long after it
   * (ms), a final with `from_finalize: true` and the words of every caller sound heard whole by then.
   * Default null: the fake's recogniser answers at once with an empty final, the words come only at
   * their cue (end of the item's audio + STT_ENDPOINTING_MS), as the e2e scenarios were written for.
   */
  finalizeRttMs?: number | null;
  /** Another compiled agent instead of dist/voice-agent (a "before" binary measured in the same hour). */
  binary?: string;
}

function geminiParts(r: Reply) {
  const text = typeof r === "string" ? r : r.text;
  const parts: Array<Array<{ text: string } | { functionCall: { name: string; args: Record<string, unknown> } }>> = [[{ text }]];
  if (typeof r !== "string" && r.endCall) parts.push([{ functionCall: { name: "end_call", args: {} } }]);
  return parts;
}

/** Starts the Gemini and Deepgram fakes and the compiled agent pointed at them (flite TTS). */
export async function startTurnRig(o: TurnRigOptions = {}): Promise<TurnRig> {
  let replies: Reply[] = o.replies ?? ["Hello, how can I help you?"];
  const gemini = startFakeGemini({ apiKey: FAKE_KEY, reply: geminiParts(replies[0]!) });
  // Default recogniser = markers with no vocabulary: it never emits anything by itself.
  const deepgram = startFakeDeepgram({ apiKey: FAKE_KEY, idleCloseMs: 0 });
  // One reply per request: once request i has arrived, the fake is set to answer the next one.
  let base = 0;
  let seen = 0;
  const replyTimer = setInterval(() => {
    const n = gemini.requests.length;
    if (n === seen) return;
    seen = n;
    gemini.setReply(geminiParts(replies[Math.min(n - base, replies.length - 1)]!));
  }, 2);
  let agent: RunningAgent;
  try {
    agent = await startAgent({
      GEMINI_API_KEY: FAKE_KEY,
      GEMINI_BASE_URL: gemini.url,
      DEEPGRAM_API_KEY: FAKE_KEY,
      DEEPGRAM_BASE_URL: deepgram.url,
      TTS_PROVIDER: "flite",
      LOG_LEVEL: "debug",
      ...o.env,
    }, undefined, { binary: o.binary });
  } catch (e) {
    clearInterval(replyTimer);
    await Promise.all([gemini.close(), deepgram.close()]);
    throw e;
  }
  const stt = new SttDriver(deepgram, o.finalizeRttMs ?? null);
  return {
    agent,
    gemini,
    deepgram,
    stt,
    get llmRequests() {
      return gemini.requests.length;
    },
    setReplies(r) {
      if (!r.length) throw new Error("setReplies: at least one reply");
      replies = r;
      base = seen = gemini.requests.length;
      gemini.setReply(geminiParts(r[0]!));
    },
    async stop() {
      clearInterval(replyTimer);
      stt.stop();
      await agent.stop();
      await Promise.all([gemini.close(), deepgram.close()]);
    },
  };
}

// ---------------------------------------------------------------- scripted STT

/** A transcript to inject once the connection's audio reaches `atMs` (file time, ms). */
export interface SttCue {
  atMs: number;
  text: string;
  /** End of the sound's last audible frame in the file, ms: from then on a Finalize returns its words. */
  voiceEndMs?: number;
}

/**
 * Injects Deepgram `Results` (is_final, speech_final) on the rig's newest STT connection when its
 * received audio passes each cue's `atMs`. Polls every 5 ms. Between cues it sends an empty interim
 * `Results` for every `HEARTBEAT_MS` of audio, as the real service keeps answering while audio flows:
 * a server that says nothing is what the agent's stall watchdog (src/providers/deepgram/stall-watchdog.ts)
 * reconnects from, which would leave the cues on a closed connection.
 *
 * With `finalizeRttMs` (not null) it also answers the agent's `{"type":"Finalize"}` as Deepgram does
 * ("Upon receiving the Finalize message, the server will process all remaining audio data and return the
 * final results. You may receive a response with the from_finalize attribute set to true",
 * https://developers.deepgram.com/docs/finalize): `finalizeRttMs` later, one final (`is_final`,
 * `speech_final` false, `from_finalize` true) with the words of every cue whose sound was received whole
 * when the Finalize came (`voiceEndMs` ≤ audio position), else an empty one; those cues are then done.
 * A Finalize in the middle of a sound returns nothing for it (its cue stays): the pessimistic choice for
 * an interruption, whose words then come at the cue. The round trip is not in Deepgram's documentation;
 * 150 ms (the bench's default) is network plus processing of a few hundred ms of buffered audio, assumed.
 */
export class SttDriver {
  private cues: SttCue[] = [];
  private conn: FakeDeepgramConnection | null = null;
  private connIndex = 0;
  private heartbeatAtMs = 0;
  private planned = false;
  private readonly timer: ReturnType<typeof setInterval>;
  /** Cues injected: text and the audio position (ms) when they were. */
  readonly injected: Array<{ text: string; atMs: number; posMs: number; fromFinalize?: boolean }> = [];
  /** Finalize answers still on their way. */
  private readonly answers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    private readonly dg: FakeDeepgram,
    private readonly finalizeRttMs: number | null = null,
  ) {
    this.timer = setInterval(() => this.tick(), 5);
    if (finalizeRttMs !== null) dg.onFinalize((c, bytes) => this.finalize(c, bytes / 8));
  }

  /** The agent asked to finalize on `c` with `posMs` of audio received (class comment). */
  private finalize(c: FakeDeepgramConnection, posMs: number): void {
    const heard = c === this.conn ? this.cues.filter((q) => q.voiceEndMs !== undefined && q.voiceEndMs <= posMs) : [];
    if (heard.length) this.cues = this.cues.filter((q) => !heard.includes(q));
    const text = heard.map((q) => q.text).join(" ");
    const t = setTimeout(() => {
      this.answers.delete(t);
      if (c.closed) return;
      try {
        this.dg.inject(
          {
            type: "Results",
            channel_index: [0, 1],
            start: 0,
            duration: posMs / 1000,
            is_final: true,
            speech_final: false,
            from_finalize: true,
            channel: { alternatives: [{ transcript: text, confidence: text ? 0.98 : 0, words: [] }] },
          },
          c,
        );
        for (const q of heard) this.injected.push({ text: q.text, atMs: q.atMs, posMs, fromFinalize: true });
      } catch {
        /* connection gone: the call ended */
      }
    }, this.finalizeRttMs!);
    this.answers.add(t);
  }

  /** Cues for the next call's STT connection (the next one the fake accepts). */
  plan(cues: SttCue[]): void {
    this.cues = [...cues].sort((a, b) => a.atMs - b.atMs);
    this.conn = null;
    this.connIndex = this.dg.connections.length;
    this.heartbeatAtMs = HEARTBEAT_MS;
    this.planned = true;
  }

  stop(): void {
    clearInterval(this.timer);
    for (const t of this.answers) clearTimeout(t);
    this.dg.onFinalize(null);
  }

  private tick(): void {
    if (!this.planned) return;
    if (!this.conn) {
      this.conn = this.dg.connections[this.connIndex] ?? null;
      if (!this.conn) return;
    }
    if (this.conn.closed) return;
    let bytes = 0;
    for (const b of this.conn.binary) bytes += b.length;
    const posMs = bytes / 8;
    if (posMs >= this.heartbeatAtMs) {
      this.heartbeatAtMs = posMs + HEARTBEAT_MS;
      try {
        this.dg.inject(
          {
            type: "Results",
            channel_index: [0, 1],
            start: 0,
            duration: posMs / 1000,
            is_final: false,
            speech_final: false,
            channel: { alternatives: [{ transcript: "", confidence: 0, words: [] }] },
          },
          this.conn,
        );
      } catch {
        /* connection gone: the call ended */
      }
    }
    while (this.cues.length && this.cues[0]!.atMs <= posMs) {
      const cue = this.cues.shift()!;
      const end = Math.max(0, cue.atMs - STT_ENDPOINTING_MS) / 1000;
      try {
        this.dg.inject(
          {
            type: "Results",
            channel_index: [0, 1],
            start: 0,
            duration: end,
            is_final: true,
            speech_final: true,
            channel: { alternatives: [{ transcript: cue.text, confidence: 0.98, words: [] }] },
          },
          this.conn,
        );
        this.injected.push({ text: cue.text, atMs: cue.atMs, posMs });
      } catch {
        /* connection gone: the call ended */
      }
    }
  }
}

// ---------------------------------------------------------------- caller audio on a timeline

export type CallerItem =
  /** Caller speech (Debian flite). `words`: what the STT "recognises" (default `text`; null = nothing). */
  | { kind: "speech"; atMs: number; text: string; voice?: FliteVoice; gainDb?: number; words?: string | null; label?: string }
  /** A sox noise burst: flat (white/pink/brown) or cough-like (band-passed, 5 ms attack, decaying). */
  | {
      kind: "noise";
      atMs: number;
      durMs: number;
      color?: "white" | "pink" | "brown";
      shape?: "flat" | "cough";
      gainDb?: number;
      label?: string;
    }
  /** Any PCM, e.g. the agent's greeting as echo. */
  /** Prepared audio; `words`: what the STT "recognises" (default nothing). */
  | { kind: "pcm"; atMs: number; pcm: Int16Array; gainDb?: number; label: string; words?: string | null };

export interface PlacedItem {
  label: string;
  kind: CallerItem["kind"];
  /** Where the item lies in the file, ms. */
  startMs: number;
  endMs: number;
  /** Audible onset and end (frames above AUDIBLE_DBFS), ms in the file. */
  onsetMs: number;
  offsetMs: number;
  words: string | null;
}

export interface CallerTimeline {
  /** Raw μ-law file for SIPp's rtp_stream. */
  path: string;
  pcm: Int16Array;
  durationMs: number;
  items: PlacedItem[];
  /** STT cues: each item with words, at its end + the STT's endpointing. */
  stt: SttCue[];
}

/**
 * Runs sox and returns raw little-endian PCM16 at 8 kHz. No dither (`-D`), and repeatable (`-R`): the
 * noise of `synth` starts from a fixed seed, so each burst is the same samples in every run.
 */
async function soxPcm(args: string[]): Promise<Int16Array> {
  const p = Bun.spawn(["sox", "-R", "-D", ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).arrayBuffer(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`sox ${args.join(" ")}: ${err}`);
  return new Int16Array(out.slice(0, out.byteLength & ~1));
}

const RAW_OUT = ["-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-L", "-r", String(RATE), "-"];

/** A noise burst of `durMs` (sox synth), flat or cough-like, at `gainDb` (dBFS of the peak-normalised burst). */
export async function noiseBurst(
  durMs: number,
  color: "white" | "pink" | "brown" = "pink",
  shape: "flat" | "cough" = "flat",
  gainDb = -12,
): Promise<Int16Array> {
  const d = (durMs / 1000).toFixed(3);
  const effects =
    shape === "cough"
      ? ["sinc", "250-2500", "fade", "q", "0.005", d, ((durMs * 0.8) / 1000).toFixed(3), "norm", String(gainDb)]
      : ["fade", "h", "0.003", d, "0.003", "norm", String(gainDb)];
  return soxPcm(["-n", ...RAW_OUT.slice(0, -1), "-", "synth", d, `${color}noise`, ...effects]);
}

function scale(pcm: Int16Array, gainDb: number): Int16Array {
  if (!gainDb) return pcm;
  const g = Math.pow(10, gainDb / 20);
  const out = new Int16Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(pcm[i]! * g)));
  return out;
}

function frameDbfs(pcm: Int16Array, from: number): number {
  let e = 0;
  const n = Math.min(pcm.length - from, 160);
  for (let i = 0; i < n; i++) e += pcm[from + i]! * pcm[from + i]!;
  return n > 0 ? 10 * Math.log10(e / n / 32768 ** 2 + 1e-12) : -120;
}

/**
 * Level above which a 20 ms frame counts as sound, dBFS: the threshold of `segmentTalkspurts` (flite's
 * pauses and lead-in sit at −60 to −72 dBFS, its speech at −10 to −35).
 */
export const AUDIBLE_DBFS = -45;

/** Start of the first 20 ms frame above `dbfs`, ms from the start of `pcm` (0 when none). */
export function onsetOf(pcm: Int16Array, dbfs = AUDIBLE_DBFS): number {
  for (let i = 0; i + 160 <= pcm.length; i += 160) if (frameDbfs(pcm, i) > dbfs) return (i / 160) * FRAME_MS;
  return 0;
}

/** End of the last 20 ms frame above `dbfs`, ms from the start of `pcm` (its length when none). */
export function offsetOf(pcm: Int16Array, dbfs = AUDIBLE_DBFS): number {
  for (let i = Math.floor(pcm.length / 160) * 160 - 160; i >= 0; i -= 160) if (frameDbfs(pcm, i) > dbfs) return (i / 160 + 1) * FRAME_MS;
  return (pcm.length * 1000) / RATE;
}

/**
 * Mixes the items into `totalMs` of caller audio (digital silence elsewhere), writes the μ-law file,
 * and returns where everything lies plus the STT cues.
 */
export async function buildCallerAudio(items: CallerItem[], totalMs: number): Promise<CallerTimeline> {
  const n = Math.round((totalMs * RATE) / 1000);
  const mix = new Float64Array(n);
  const placed: PlacedItem[] = [];
  for (const it of items) {
    let pcm: Int16Array;
    let words: string | null = null;
    let label: string;
    if (it.kind === "speech") {
      pcm = scale(await speechPcm8k(it.text, { voice: it.voice ?? "slt" }), it.gainDb ?? 0);
      words = it.words === undefined ? it.text : it.words;
      label = it.label ?? `speech "${it.text}"`;
    } else if (it.kind === "noise") {
      pcm = await noiseBurst(it.durMs, it.color, it.shape, it.gainDb);
      label = it.label ?? `${it.shape ?? "flat"} ${it.color ?? "pink"} ${it.durMs} ms`;
    } else {
      pcm = scale(it.pcm, it.gainDb ?? 0);
      words = it.words ?? null;
      label = it.label;
    }
    const at = Math.round((it.atMs * RATE) / 1000);
    if (at + pcm.length > n) throw new Error(`${label} ends after ${totalMs} ms`);
    for (let i = 0; i < pcm.length; i++) mix[at + i]! += pcm[i]!;
    const startMs = it.atMs;
    placed.push({
      label,
      kind: it.kind,
      startMs,
      endMs: startMs + (pcm.length * 1000) / RATE,
      onsetMs: startMs + onsetOf(pcm),
      offsetMs: startMs + offsetOf(pcm),
      words,
    });
  }
  const pcm = new Int16Array(n);
  for (let i = 0; i < n; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(mix[i]!)));
  const stt = placed.filter((p) => p.words).map((p) => ({ atMs: Math.ceil(p.endMs + STT_ENDPOINTING_MS), text: p.words!, voiceEndMs: p.offsetMs }));
  return { path: writeG711File(pcm, "mulaw"), pcm, durationMs: totalMs, items: placed, stt };
}

// ---------------------------------------------------------------- the agent's own audio

let flite: ReturnType<typeof createFliteTts> | null = null;

/**
 * The 8 kHz samples the agent sends for one text, synthesised by flite kal16 exactly as the agent's TTS
 * stream does: an LLM reply (arriving as one LLM event) in the pipeline's sentence chunks; with
 * `fixed`, text the agent speaks outside the LLM (idle prompts, goodbyes) as one chunk.
 */
export function agentSpeech(text: string, opts: { fixed?: boolean } = {}): Promise<Int16Array> {
  // Rendered once per text: flite on the test's thread took > 5 s for the long greeting on a loaded core
  // (a test's whole default time), so files render what they compare against in beforeAll.
  const key = `${opts.fixed ? "fixed" : "split"}:${text}`;
  let pcm = speechCache.get(key);
  if (!pcm) {
    pcm = (async () => {
      flite ??= createFliteTts({});
      const s = new SentenceSplitter();
      const chunks = opts.fixed ? [text] : [...s.push(text), ...s.flush()];
      const parts: Int16Array[] = [];
      for (const c of chunks) parts.push(await flite.synthesize8k(c));
      return concatInt16(parts);
    })();
    speechCache.set(key, pcm);
  }
  return pcm;
}
const speechCache = new Map<string, Promise<Int16Array>>();

/**
 * How long a talkspurt of `pcm` (agent audio, sent from a frame boundary) lasts on the wire as
 * `analyseCall` counts it: from the first to the end of the last 20 ms frame whose μ-law payload is not
 * all silence bytes, ms.
 */
export function wireSpanMs(pcm: Int16Array): number {
  const enc = encodeG711(pcm, "mulaw");
  let first = -1;
  let last = -1;
  for (let f = 0; f * 160 < enc.length; f++) {
    if (enc.subarray(f * 160, f * 160 + 160).some((b) => b !== G711_SILENCE.mulaw)) {
      if (first < 0) first = f;
      last = f;
    }
  }
  return first < 0 ? 0 : (last - first + 1) * FRAME_MS;
}

// ---------------------------------------------------------------- a live echo path

export interface EchoOptions {
  /** Echo delay: an agent packet comes back this long after it arrived, ms. */
  delayMs: number;
  /** Echo level relative to what the agent sent, dB (e.g. −20). */
  gainDb: number;
}

/**
 * The caller's media endpoint for echo calls: every RTP packet the agent sends comes back `delayMs`
 * later, its audio scaled by `gainDb` and mixed with the caller's own sounds (`callerPcm`, packet n
 * carrying its ms [20n, 20n + 20)). The peer keeps its own 20 ms clock, started `delayMs` after the
 * agent's first packet, as a phone does: packet n goes out at that start + 20n ms and carries the
 * caller's sounds of frame n plus the echo of the agent's frame n, placed by the agent's RTP timestamp
 * (so an agent that stops sending while idle — RTP_SILENCE_SUPPRESSION, RFC 3551 §4.1 — leaves silence in
 * the echo, not a pause in the caller's speech). A far-end hybrid reflects real audio with a fixed delay
 * in the same way; pre-recording the echo would not work because the agent's first words come 116–395 ms
 * after the call starts (measured), more than the 40–200 ms range under test.
 */
export class EchoPeer {
  private seq = 1000;
  private ts = 160_000;
  private closed = false;
  /** The agent's frames by index (RTP timestamp − the first one) / 160, decoded, waiting for their echo slot. */
  private readonly agentFrames = new Map<number, Int16Array>();
  private agentTs0: number | undefined;
  private law: "mulaw" | "alaw" = "mulaw";
  private peer: { port: number; addr: string } | undefined;
  /** performance.now() of echo frame 0; frames due by now are sent on each timer turn (none lost when late). */
  private t0 = 0;
  private next = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Echo packets sent. */
  sent = 0;

  private constructor(
    private readonly sock: udp.Socket<"buffer">,
    private readonly callerPcm: Int16Array,
    private readonly o: EchoOptions,
  ) {}

  /** Binds 127.0.0.1:`port` (the port the SDP offer names). */
  static async start(port: number, callerPcm: Int16Array, o: EchoOptions): Promise<EchoPeer> {
    let peer!: EchoPeer;
    const sock = await Bun.udpSocket({
      hostname: LOOPBACK,
      port,
      socket: {
        data: (_s, buf, rport, raddr) => peer.onPacket(new Uint8Array(buf), rport, raddr),
        // Echo still on its way when the agent closes its RTP port comes back as ICMP port unreachable
        // (ECONNREFUSED on the next receive); without a handler Bun throws it as uncaught.
        error: () => {},
      },
    });
    peer = new EchoPeer(sock, callerPcm, o);
    return peer;
  }

  private onPacket(buf: Uint8Array, port: number, addr: string): void {
    const h = parseRtp(buf);
    if (!h || this.closed || (h.payloadType !== 0 && h.payloadType !== 8)) return;
    this.law = h.payloadType === 8 ? "alaw" : "mulaw";
    this.peer = { port, addr };
    if (this.agentTs0 === undefined) {
      this.agentTs0 = h.timestamp;
      this.t0 = performance.now() + this.o.delayMs;
      this.schedule();
    }
    const k = Math.round(((h.timestamp - this.agentTs0) >>> 0) / 160);
    if (k >= this.next) this.agentFrames.set(k, decodeG711(h.payload, this.law)); // later than its slot: lost, as on a line
  }

  private schedule(): void {
    const due = this.t0 + this.next * 20;
    this.timer = setTimeout(() => this.tick(), Math.max(0, due - performance.now()));
  }

  private tick(): void {
    if (this.closed) return;
    const g = Math.pow(10, this.o.gainDb / 20);
    while (performance.now() >= this.t0 + this.next * 20) {
      const k = this.next++;
      const echo = this.agentFrames.get(k);
      this.agentFrames.delete(k);
      const out = new Int16Array(160);
      for (let i = 0; i < 160; i++) {
        out[i] = Math.max(-32768, Math.min(32767, Math.round((echo?.[i] ?? 0) * g + (this.callerPcm[k * 160 + i] ?? 0))));
      }
      const pkt = buildRtp({ payloadType: this.law === "alaw" ? 8 : 0, sequenceNumber: this.seq++ & 0xffff, timestamp: this.ts, ssrc: 0x0ec40ec4, payload: encodeG711(out, this.law) });
      this.ts += 160;
      try {
        this.sock.send(pkt, this.peer!.port, this.peer!.addr);
        this.sent++;
      } catch {
        // ECONNREFUSED: the agent closed its RTP port (the call ended) while echo was still on its way.
      }
    }
    this.schedule();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.sock.close();
  }
}

// ---------------------------------------------------------------- one call

export interface TurnCall {
  sipp: SippResult;
  /** GET /calls/:id once the call ended. */
  record: any;
  caller: CallerTimeline;
  /** Agent → caller and caller → agent RTP as captured on lo. */
  fromAgent: RtpStream;
  fromCaller: RtpStream;
  /** LLM requests made during this call. */
  llmRequests: number;
  /** Their bodies (contents = the history the model saw). */
  llmBodies: any[];
  /** Agent log lines of this call. */
  logs: any[];
  /** SIP messages on the agent's SIP port as captured: first line, direction, arrival (epoch ms). */
  sip: Array<{ fromAgent: boolean; firstLine: string; arrivalMs: number }>;
}

export interface TurnCallOptions {
  /** Who ends the call: "caller" = SIPp BYE after the audio + `listenMs`; "agent" = SIPp waits for BYE (agent-hangup.xml, turn-echo-hangup.xml). */
  hangup?: "caller" | "agent";
  /** Extra time after the caller's audio before SIPp hangs up (hangup "caller"), ms. */
  listenMs?: number;
  /** Hard limit for SIPp, ms. */
  timeoutMs?: number;
  /** The LLM's replies in this call (see `TurnRig.setReplies`); default: the rig's current ones. */
  replies?: Reply[];
  /**
   * Media from a live echo path (`EchoPeer`) instead of SIPp's rtp_stream: the agent's audio comes back
   * with this delay and level, mixed with the caller audio (SIPp then carries only the signalling).
   */
  echo?: EchoOptions;
}

/** Media port ranges handed to calls of this process and not yet released (concurrent calls must not share). */
const reservedRanges = new Set<number>();

/** 8 free UDP ports not handed to another call of this process: base..base+7. */
async function reserveMediaRange(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = await freeUdpPortRange(8);
    if ([...reservedRanges].some((b) => Math.abs(b - base) < 8)) continue;
    reservedRanges.add(base);
    return base;
  }
  throw new Error("no free media port range");
}

/** Places one call: capture on, STT cues planned, SIPp plays the caller audio; returns everything seen. */
export async function runTurnCall(rig: TurnRig, caller: CallerTimeline, o: TurnCallOptions = {}): Promise<TurnCall> {
  const mediaPort = await reserveMediaRange();
  try {
    return await runTurnCallOn(mediaPort, rig, caller, o);
  } finally {
    reservedRanges.delete(mediaPort);
  }
}

async function runTurnCallOn(mediaPort: number, rig: TurnRig, caller: CallerTimeline, o: TurnCallOptions): Promise<TurnCall> {
  // SIPp binds its media sockets on -mp and the next ports (audio, RTCP, video): echo calls put the
  // peer on mediaPort and SIPp on mediaPort + 4.
  const cap = await RtpCapture.start({
    ports: [rig.agent.sipPort],
    portRanges: [
      [mediaPort, mediaPort + 7],
      [rig.agent.rtpStart, rig.agent.rtpEnd],
    ],
  });
  if (o.replies) rig.setReplies(o.replies);
  const llmBefore = rig.llmRequests;
  rig.stt.plan(caller.stt);
  const hangup = o.hangup ?? "caller";
  let sipp: SippResult;
  let echo: EchoPeer | null = null;
  try {
    const pauseMs = caller.durationMs + (o.listenMs ?? 3000);
    const timeoutMs = o.timeoutMs ?? pauseMs + 20_000;
    const target = `127.0.0.1:${rig.agent.sipPort}`;
    if (o.echo) {
      echo = await EchoPeer.start(mediaPort, caller.pcm, o.echo);
      // SIPp's own media sockets go elsewhere; the offer names the echo peer's port.
      sipp = await runSipp({
        scenario: hangup === "agent" ? "turn-echo-hangup" : "turn-echo",
        target,
        mediaPort: mediaPort + 4,
        keys: { echo_port: String(mediaPort) },
        pauseMs,
        timeoutMs,
      });
    } else {
      sipp = await runSipp({
        scenario: hangup === "agent" ? "agent-hangup" : "inbound-call",
        target,
        mediaPort,
        audioFile: caller.path,
        pauseMs,
        timeoutMs,
      });
    }
  } catch (e) {
    echo?.close();
    await cap.abort();
    throw e;
  }
  echo?.close();
  const res = await cap.stop();
  const callId = sipp.messages.find((m) => m.method === "INVITE")?.text.match(/^Call-ID:\s*(\S+)/im)?.[1];
  if (!callId) throw new Error(`no INVITE in the SIPp trace\n${describeSipp(sipp)}`);
  const summary = await waitFor(
    async () => {
      const l = await rig.agent.get("/calls");
      return [...(l.recent ?? []), ...(l.active ?? [])].find((c: any) => c.sipCallId === callId && c.state === "ended");
    },
    10_000,
    `call ${callId} ended in /calls`,
  );
  const record = await rig.agent.get(`/calls/${summary.id}`);
  const fromAgent = streamsByPort(res.rtpStreams, mediaPort)[0];
  const fromCaller = streamsByPort(res.rtpStreams, mediaPort, { from: true })[0];
  if (!fromAgent || !fromCaller)
    throw new Error(`RTP missing in the capture (agent: ${!!fromAgent}, caller: ${!!fromCaller})\n${describeSipp(sipp)}`);
  const logs = rig.agent.logs().filter((l) => l.callId === record.id);
  const llmBodies = rig.gemini.requests.slice(llmBefore).map((r) => r.body);
  const dec = new TextDecoder();
  const sip = res.datagrams
    .filter((d) => d.srcPort === rig.agent.sipPort || d.dstPort === rig.agent.sipPort)
    .map((d) => ({
      fromAgent: d.srcPort === rig.agent.sipPort,
      firstLine: dec.decode(d.payload.subarray(0, 120)).split("\r\n", 1)[0]!,
      arrivalMs: d.timeMs,
    }));
  return { sipp, record, caller, fromAgent, fromCaller, llmRequests: llmBodies.length, llmBodies, logs, sip };
}

// ---------------------------------------------------------------- what the capture shows

export interface Spurt {
  /** Arrival of the first / last packet carrying agent audio, ms since the first caller packet. */
  startMs: number;
  endMs: number;
  packets: number;
  /** RTP timestamp span from the first packet's start to the last packet's end, ms (immune to arrival jitter). */
  spanMs: number;
}

export interface CallAnalysis {
  /** Arrival of the first caller RTP packet (epoch ms): t = 0. */
  t0: number;
  /** Agent audio packets (not the playout's silence frames), arrival ms since t0. */
  agentAudioMs: number[];
  /** Runs of agent audio; a run ends at a gap of at least `gapMs` (default 400) of silence frames. */
  agentSpurts: Spurt[];
  /** Arrival (ms since t0) of the caller packet that carries file time `fileMs`. */
  arrivalOfFileMs(fileMs: number): number;
  /**
   * Barge-in stop latency for caller sound starting at file time `onsetFileMs`: arrival of the last
   * agent audio packet of the spurt playing then, minus arrival of the caller packet carrying the
   * onset. Null when the agent was not playing at that moment.
   */
  stopAfter(onsetFileMs: number): number | null;
  /** The spurt playing at `t` (ms since t0), if any. */
  spurtAt(t: number): Spurt | undefined;
  /** Arrival of the agent's BYE (ms since t0), if it sent one. */
  agentByeMs: number | undefined;
}

/** True for a payload that is the playout's silence frame (every byte the law's silence value). */
function isSilenceFrame(p: CapturedRtpPacket): boolean {
  const s = p.payloadType === 8 ? G711_SILENCE.alaw : G711_SILENCE.mulaw;
  for (const b of p.payload) if (b !== s) return false;
  return true;
}

export function analyseCall(call: Pick<TurnCall, "fromAgent" | "fromCaller"> & Partial<Pick<TurnCall, "sip">>, gapMs = 400): CallAnalysis {
  const callerPk = [...call.fromCaller.audioPackets].sort((a, b) => a.extSeq - b.extSeq);
  const t0 = Math.min(...callerPk.map((p) => p.arrivalMs));
  const seq0 = callerPk[0]!.extSeq;
  const bySeq = new Map(callerPk.map((p) => [p.extSeq - seq0, p.arrivalMs - t0]));
  const audio = call.fromAgent.audioPackets.filter((p) => !isSilenceFrame(p)).sort((a, b) => a.arrivalMs - b.arrivalMs);
  const agentAudioMs = audio.map((p) => p.arrivalMs - t0);
  const spurts: Spurt[] = [];
  let ts0 = 0;
  for (const p of audio) {
    const t = p.arrivalMs - t0;
    const last = spurts[spurts.length - 1];
    if (last && t - last.endMs < gapMs) {
      last.endMs = t;
      last.packets++;
      last.spanMs = ((p.extTimestamp + p.payload.length - ts0) * 1000) / RATE;
    } else {
      ts0 = p.extTimestamp;
      spurts.push({ startMs: t, endMs: t, packets: 1, spanMs: (p.payload.length * 1000) / RATE });
    }
  }
  const arrivalOfFileMs = (fileMs: number): number => {
    const k = Math.floor(fileMs / FRAME_MS);
    const hit = bySeq.get(k);
    if (hit !== undefined) return hit;
    // Lost packet: interpolate from the nearest earlier one.
    for (let j = k - 1; j >= 0; j--) {
      const a = bySeq.get(j);
      if (a !== undefined) return a + (k - j) * FRAME_MS;
    }
    return k * FRAME_MS;
  };
  const spurtAt = (t: number) => spurts.find((s) => s.startMs <= t && t <= s.endMs + FRAME_MS);
  const bye = call.sip?.find((m) => m.fromAgent && m.firstLine.startsWith("BYE "));
  return {
    t0,
    agentByeMs: bye ? bye.arrivalMs - t0 : undefined,
    agentAudioMs,
    agentSpurts: spurts,
    arrivalOfFileMs,
    spurtAt,
    stopAfter(onsetFileMs) {
      const t = arrivalOfFileMs(onsetFileMs);
      const s = spurtAt(t);
      return s ? s.endMs - t : null;
    },
  };
}

/** Agent turns of a record. */
export function agentTurns(record: any): any[] {
  return (record.turns ?? []).filter((t: any) => t.speaker === "agent");
}

/** Caller turns of a record. */
export function callerTurns(record: any): any[] {
  return (record.turns ?? []).filter((t: any) => t.speaker === "caller");
}

/** p-quantile (0..1) of numbers, nearest rank. */
export function quantile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

/** PCM16 of the agent's RTP, by timestamp (what the caller heard). */
export function agentPcm(call: Pick<TurnCall, "fromAgent">): Int16Array {
  const pk = call.fromAgent.audioPackets;
  return concatInt16(pk.map((p) => decodeG711(p.payload, p.payloadType === 8 ? "alaw" : "mulaw")));
}
