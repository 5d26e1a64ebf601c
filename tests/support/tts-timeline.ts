/**
 * Lines up the TTS fake's timeline (tests/fakes/cartesia.ts `ttsTimeline`: when each chunk of each
 * context left the fake, epoch ms — its wire time, measured: p50 −0.01 ms) with the agent's RTP as
 * captured (rtp-streams.ts): for a silence frame inside a reply, which transcript (sentence) and chunk
 * held the audio that frame needed, and whether the fake had sent it when the frame went out. Used by
 * scripts/capture-gaps.ts (a line per silence run) and bench:load's gate (load.ts: silence frames whose
 * audio the fake had not sent yet are the load generator's, `LoadRow.ttsLate`).
 *
 * Which connection is which call: a reply's first RTP frame follows its context's first chunk within
 * MATCH_MS (the agent plays the first chunk at once); each stream takes the connection whose context
 * started last before most of its phrases. Calls start 50 ms apart (SIPp -r 20), so starts of different
 * calls do not mix. Positions: the reply's audio is its chunks' bytes in order; an RTP frame is 160
 * samples; the fake's bytes per sample (1 for pcm_mulaw/alaw, 2 for pcm_s16le) come from its 40 samples
 * per character.
 */
import { isSilencePayload, PHRASE_GAP_MS, phrasesOf } from "./load-gate.ts";
import type { CapturedRtpPacket, RtpStream } from "./rtp-streams.ts";

export type TtsTimeline = { connection: number; contexts: { contextId: string; transcripts: string[]; chunks: [number, number, number][] }[] }[];

/** A context's first chunk to the reply's first RTP frame, at most, ms. */
const MATCH_MS = 60;
/** Once the call's connection is known, its reply's context may have started this long before the phrase (a greeting synthesised before the ACK), ms. */
const GREETING_AHEAD_MS = 3000;
const FRAME_SAMPLES = 160;

/** Where the audio a silence run was waiting for came from. */
export interface SilenceSource {
  connection: number;
  /** The reply's audio frame (1-based) the run's first frame stood in for. */
  audioFrame: number;
  transcript: number;
  text: string;
  /** The chunk is its transcript's first (a sentence boundary). */
  firstOfTranscript: boolean;
  /** When the chunk holding the frame's last byte left the fake, epoch ms. */
  sentAtMs: number;
  /** For a transcript's first chunk: when the previous transcript's last chunk left, epoch ms. */
  previousEndMs?: number;
}

/** A silence run inside a phrase: stream index, packet index of its first frame, frame count. */
export interface SilenceRun {
  stream: number;
  first: number;
  frames: number;
}

/** Silence runs inside phrases, as load-gate.ts counts them: sent silence (the run ends at a marker frame) between audio, shorter than PHRASE_GAP_MS. */
export function silenceRunsInPhrases(streams: readonly Pick<RtpStream, "audioPackets">[]): SilenceRun[] {
  const runs: SilenceRun[] = [];
  for (const [si, s] of streams.entries()) {
    const pk = s.audioPackets;
    for (let i = 0; i < pk.length; ) {
      if (!isSilencePayload(pk[i]!.payload)) {
        i++;
        continue;
      }
      let j = i;
      while (j < pk.length && isSilencePayload(pk[j]!.payload)) j++;
      // The run's length on the RTP timestamps: under silence suppression its idle ticks were not sent.
      if (i > 0 && j < pk.length && pk[j]!.marker && (pk[j]!.extTimestamp - pk[i]!.extTimestamp) / 8 < PHRASE_GAP_MS) runs.push({ stream: si, first: i, frames: j - i });
      i = j;
    }
  }
  return runs;
}

/** @returns `(run)` → where its audio came from, or why that is unknown (a string). */
export function ttsLocator(timeline: TtsTimeline, streams: readonly Pick<RtpStream, "audioPackets">[]) {
  const firsts: { at: number; conn: number }[] = [];
  for (const [ci, c] of timeline.entries()) for (const ctx of c.contexts) if (ctx.chunks.length) firsts.push({ at: ctx.chunks[0]![0], conn: ci });
  firsts.sort((a, b) => a.at - b.at);
  const after = (t: number) => {
    let lo = 0, hi = firsts.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (firsts[m]!.at < t) lo = m + 1;
      else hi = m;
    }
    return lo;
  };
  const connOf = streams.map((s) => {
    const votes = new Map<number, number>();
    for (const p of phrasesOf(s).phrases) {
      // The context that started last before the phrase (another call's started ≥ 50 ms earlier, or after).
      const k = after(p.startMs + 0.5) - 1;
      if (k >= 0 && p.startMs - firsts[k]!.at <= MATCH_MS) votes.set(firsts[k]!.conn, (votes.get(firsts[k]!.conn) ?? 0) + 1);
    }
    return [...votes].sort((a, b) => b[1] - a[1])[0]?.[0];
  });
  return (run: SilenceRun): SilenceSource | string => {
    const ci = connOf[run.stream];
    if (ci === undefined) return "no TTS connection matches the call";
    const connection = timeline[ci]!.connection;
    const pk: CapturedRtpPacket[] = streams[run.stream]!.audioPackets;
    // The phrase's first frame: back over audio and silence shorter than a phrase gap.
    let start = run.first;
    for (let k = run.first - 1, quiet = 0; k >= 0; k--) {
      if (isSilencePayload(pk[k]!.payload)) {
        if (++quiet * 20 >= PHRASE_GAP_MS) break;
      } else {
        quiet = 0;
        start = k;
      }
    }
    let audioFrames = 0;
    for (let k = start; k < run.first; k++) if (!isSilencePayload(pk[k]!.payload)) audioFrames++;
    const startMs = pk[start]!.arrivalMs;
    const ctx = timeline[ci]!.contexts.filter((c) => c.chunks.length && c.chunks[0]![0] <= startMs + 1).sort((a, b) => b.chunks[0]![0] - a.chunks[0]![0])[0];
    if (!ctx || startMs - ctx.chunks[0]![0] > GREETING_AHEAD_MS) return `connection ${connection}: no context started just before the phrase`;
    const chars = ctx.transcripts.reduce((n, t) => n + t.length, 0);
    const bytes = ctx.chunks.reduce((n, c) => n + c[1], 0);
    const bytesPerSample = Math.max(1, Math.round(bytes / (chars * 40)));
    const need = (audioFrames + 1) * FRAME_SAMPLES * bytesPerSample - 1; // the last byte of the frame due
    let sum = 0, k = 0;
    for (; k < ctx.chunks.length && sum + ctx.chunks[k]![1] <= need; k++) sum += ctx.chunks[k]![1];
    if (k >= ctx.chunks.length) return `connection ${connection}: frame ${audioFrames + 1} of the reply is past its ${ctx.chunks.length} chunks (cut, or the reply's end)`;
    const [sentAtMs, , tr] = ctx.chunks[k]!;
    const firstOfTr = ctx.chunks.findIndex((c) => c[2] === tr);
    return {
      connection,
      audioFrame: audioFrames + 1,
      transcript: tr,
      text: ctx.transcripts[tr] ?? "",
      firstOfTranscript: k === firstOfTr,
      sentAtMs,
      ...(k === firstOfTr && firstOfTr > 0 ? { previousEndMs: ctx.chunks[firstOfTr - 1]![0] } : {}),
    };
  };
}

/** One line on a silence run's source (`dueMs`: when its first silence frame went out, capture clock). */
export function describeSource(src: SilenceSource | string, dueMs: number): string {
  if (typeof src === "string") return src;
  const where = src.firstOfTranscript ? `the first chunk of transcript ${src.transcript}` : `a later chunk of transcript ${src.transcript}`;
  return (
    `connection ${src.connection}: audio frame ${src.audioFrame} of the reply (${(((src.audioFrame - 1) * 20) / 1000).toFixed(2)} s in) needed ${where} ` +
    `(${JSON.stringify(src.text.slice(0, 24))}…), sent by the fake ${Math.abs(dueMs - src.sentAtMs).toFixed(1)} ms ${src.sentAtMs <= dueMs ? "before" : "AFTER"} this silence frame` +
    (src.previousEndMs !== undefined ? `; ${(src.sentAtMs - src.previousEndMs).toFixed(0)} ms after the previous transcript's last chunk` : "")
  );
}

/**
 * Silence frames inside phrases that went out before the TTS fake had sent the audio they stood in for:
 * the reply's audio itself was late (the load generator), not held back by the agent. A frame sent while
 * that audio was on the wire to the agent (or when its source cannot be placed) is the agent's.
 */
export function ttsLateSilenceFrames(timeline: TtsTimeline, streams: readonly Pick<RtpStream, "audioPackets">[]): number {
  const locate = ttsLocator(timeline, streams);
  let late = 0;
  for (const run of silenceRunsInPhrases(streams)) {
    const src = locate(run);
    if (typeof src === "string") continue;
    const pk = streams[run.stream]!.audioPackets;
    for (let k = run.first; k < run.first + run.frames; k++) if (pk[k]!.arrivalMs < src.sentAtMs) late++;
  }
  return late;
}
