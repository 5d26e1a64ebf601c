/**
 * Lines up the TTS fake's timeline (tests/fakes/cartesia.ts `ttsTimeline`: when each chunk of each
 * context left the fake, epoch ms) with the agent's RTP as captured (rtp-streams.ts), for
 * scripts/capture-gaps.ts: for a silence frame inside a reply, which transcript (sentence) and chunk held
 * the audio that frame needed, and when that chunk was sent.
 *
 * Which connection is which call: a reply's first RTP frame follows its context's first chunk within
 * MATCH_MS (the agent plays the first chunk at once); each stream takes the connection whose context
 * started last before most of its phrases. Calls start 50 ms apart (SIPp -r 20), so starts of different calls do not mix.
 * Positions: the reply's audio is its chunks' bytes in order; an RTP frame is 160 samples; the fake's
 * bytes per sample (1 for pcm_mulaw/alaw, 2 for pcm_s16le) come from its 40 samples per character.
 */
import { PHRASE_GAP_MS, phrasesOf } from "./load-gate.ts";
import type { CapturedRtpPacket, RtpStream } from "./rtp-streams.ts";

export type TtsTimeline = { connection: number; contexts: { contextId: string; transcripts: string[]; chunks: [number, number, number][] }[] }[];

/** A context's first chunk to the reply's first RTP frame, at most, ms. */
const MATCH_MS = 60;
const FRAME_SAMPLES = 160;
/** Once the call's connection is known, its reply's context may have started this long before the phrase (a greeting synthesised before the ACK), ms. */
const GREETING_AHEAD_MS = 3000;

/**
 * @returns `(stream, packet, isSilence)` → a line on the chunk the silence run starting at `packet` of
 *   stream `stream` (an index into `streams`) was waiting for; undefined when it cannot be placed.
 */
export function ttsSourceOf(timeline: TtsTimeline, streams: RtpStream[]) {
  const firsts: { at: number; conn: number; ctx: TtsTimeline[number]["contexts"][number] }[] = [];
  for (const [ci, c] of timeline.entries()) for (const ctx of c.contexts) if (ctx.chunks.length) firsts.push({ at: ctx.chunks[0]![0], conn: ci, ctx });
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
  return (si: number, i: number, isSilence: (p: Uint8Array) => boolean): string | undefined => {
    const ci = connOf[si];
    if (ci === undefined) return undefined;
    const pk: CapturedRtpPacket[] = streams[si]!.audioPackets;
    // The phrase's first frame: back over audio and silence shorter than a phrase gap.
    let start = i;
    for (let k = i - 1, quiet = 0; k >= 0; k--) {
      if (isSilence(pk[k]!.payload)) {
        if (++quiet * 20 >= PHRASE_GAP_MS) break;
      } else {
        quiet = 0;
        start = k;
      }
    }
    let audioFrames = 0;
    for (let k = start; k < i; k++) if (!isSilence(pk[k]!.payload)) audioFrames++;
    const startMs = pk[start]!.arrivalMs;
    const ctxs = timeline[ci]!.contexts.filter((c) => c.chunks.length && c.chunks[0]![0] <= startMs + 1).sort((a, b) => b.chunks[0]![0] - a.chunks[0]![0]);
    const ctx = ctxs[0];
    if (!ctx || startMs - ctx.chunks[0]![0] > GREETING_AHEAD_MS) return `connection ${timeline[ci]!.connection}: no context started just before the phrase`;
    const chars = ctx.transcripts.reduce((n, t) => n + t.length, 0);
    const bytes = ctx.chunks.reduce((n, c) => n + c[1], 0);
    const bytesPerSample = Math.max(1, Math.round(bytes / (chars * 40)));
    const need = (audioFrames + 1) * FRAME_SAMPLES * bytesPerSample - 1; // the last byte of the frame due
    let sum = 0, k = 0;
    for (; k < ctx.chunks.length && sum + ctx.chunks[k]![1] <= need; k++) sum += ctx.chunks[k]![1];
    const due = pk[i]!.arrivalMs;
    if (k >= ctx.chunks.length) return `connection ${timeline[ci]!.connection}: frame ${audioFrames + 1} of the reply is past its ${ctx.chunks.length} chunks (cut, or the reply's end)`;
    const [at, , tr] = ctx.chunks[k]!;
    const firstOfTranscript = ctx.chunks.findIndex((c) => c[2] === tr);
    const prevEnd = firstOfTranscript > 0 ? ctx.chunks[firstOfTranscript - 1]![0] : undefined;
    const where = k === firstOfTranscript ? `the first chunk of transcript ${tr}` : `chunk ${k - firstOfTranscript + 1} of transcript ${tr}`;
    return (
      `connection ${timeline[ci]!.connection}: audio frame ${audioFrames + 1} of the reply (${((audioFrames * 20) / 1000).toFixed(2)} s in) needed ${where} ` +
      `(${JSON.stringify(ctx.transcripts[tr]!.slice(0, 24))}…), sent by the fake ${(due - at).toFixed(1)} ms ${at <= due ? "before" : "AFTER"} this silence frame` +
      (k === firstOfTranscript && prevEnd !== undefined ? `; ${(at - prevEnd).toFixed(0)} ms after the previous transcript's last chunk` : "")
    );
  };
}
