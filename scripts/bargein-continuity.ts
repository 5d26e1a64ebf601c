/**
 * What a short sound (a backchannel, a noise burst) did to the agent's reply, from the wire alone
 * (bench-bargein.ts `liveDistractors`): for each event, the silence it put into the agent's audio and
 * whether the reply then went on from the same sample — every audio frame the agent sent, in RTP order,
 * compared byte for byte with the reply's own audio (flite kal16, tests/e2e/turn-support.ts
 * `agentSpeech`), so a frame lost, repeated or re-synthesised shows.
 *
 * Method: wire audio frame i (μ-law payloads not all silence, in extended-sequence order) is reference
 * frame k(i) (the reply's 20 ms frames, all-silence frames skipped) while the two agree byte for byte.
 * `arrival(i) − 20·pos(k(i))` (pos: the frame's place in the reference, silent frames included) is the
 * reply's accumulated delay; a sound that paused it raises that delay by the length of the pause (ms),
 * with the reply's own silences (between sentences) cancelled out. Arrival jitter on lo: a few ms.
 */
import { encodeG711, G711_SILENCE } from "../tests/support/g711.ts";
import type { TurnCall } from "../tests/e2e/turn-support.ts";

export interface EventEffect {
  /** Added silence in the reply around this event (delay after − delay before), ms; 0: it did not stop. */
  pauseMs: number;
  /** The reply no longer matched its own audio here (cut, re-synthesised): measured as the longest hole in the agent's audio instead. */
  approx?: boolean;
  /** Onset (arrival of the caller packet carrying it) → the reply's audio again after the pause, ms; null without a pause. */
  onsetToAudioMs: number | null;
}

export interface Continuity {
  /** Wire audio frames that matched the reference in order (from its first frame). */
  matched: number;
  /** Audio frames sent in all, and the reference's non-silent frames. */
  sent: number;
  reference: number;
  /** Every sent frame matched and the whole reference was sent: the reply went on from the same sample. */
  intact: boolean;
  /** Per event, in the order given. */
  events: EventEffect[];
}

/** Frames (160 bytes, μ-law) of `pcm`, with their index in the whole, all-silence frames left out. */
function referenceFrames(pcm: Int16Array): Array<{ bytes: Uint8Array; pos: number }> {
  const enc = encodeG711(pcm, "mulaw");
  const out: Array<{ bytes: Uint8Array; pos: number }> = [];
  for (let f = 0; f * 160 < enc.length; f++) {
    const bytes = new Uint8Array(160).fill(G711_SILENCE.mulaw);
    bytes.set(enc.subarray(f * 160, f * 160 + 160));
    if (bytes.some((b) => b !== G711_SILENCE.mulaw)) out.push({ bytes, pos: f });
  }
  return out;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The reply's continuity and each event's pause. `reply`: the 8 kHz samples of the reply that plays
 * (agentSpeech); `events`: arrival times of the events' onsets (ms since `t0`, analyseCall's clock);
 * `t0`: analyseCall's t0 (arrival of the first caller packet).
 */
export function replyContinuity(call: Pick<TurnCall, "fromAgent">, reply: Int16Array, t0: number, events: number[]): Continuity {
  const ref = referenceFrames(reply);
  const wire = [...call.fromAgent.audioPackets]
    .sort((a, b) => a.extSeq - b.extSeq)
    .filter((p) => p.payload.some((b) => b !== G711_SILENCE.mulaw));
  let matched = 0;
  const delay: Array<{ at: number; delay: number }> = [];
  for (const p of wire) {
    const r = ref[matched];
    if (!r || !same(p.payload, r.bytes)) break;
    delay.push({ at: p.arrivalMs - t0, delay: p.arrivalMs - t0 - 20 * r.pos });
    matched++;
  }
  const effects = events.map((t, i): EventEffect => {
    const next = events[i + 1] ?? Infinity;
    const before = delay.filter((d) => d.at <= t).at(-1);
    // The first frame after the pause: the delay's step up within 2 s of the onset (before the next event).
    let step: { at: number; delay: number } | undefined;
    let lastDelay = before?.delay;
    for (const d of delay) {
      if (d.at <= t || d.at >= Math.min(t + 2000, next)) continue;
      if (lastDelay !== undefined && d.delay - lastDelay > 40) step = d;
      lastDelay = d.delay;
    }
    const after = delay.filter((d) => d.at < Math.min(t + 2000, next)).at(-1);
    // The reply stopped matching its own audio before this event's window was over (a cut, a re-synthesised rest).
    const diverged = matched < wire.length && (delay.at(-1)?.at ?? -Infinity) < Math.min(t + 2000, next);
    if (!before || !after || diverged) return holeAfter(wire.map((p) => p.arrivalMs - t0), t, next);
    const pauseMs = Math.max(0, Math.round(after.delay - before.delay));
    return { pauseMs: pauseMs > 40 ? pauseMs : 0, onsetToAudioMs: pauseMs > 40 && step ? Math.round(step.at - t) : null };
  });
  return { matched, sent: wire.length, reference: ref.length, intact: matched === wire.length && matched === ref.length, events: effects };
}

/**
 * Where the reply stopped matching its own audio (a cut and a re-synthesised rest): the longest hole
 * between two agent audio frames that begins within 1 s after the onset `t` (before the next event),
 * ms, and onset → the audio after it. Natural silences of the reply count too (approximate).
 */
function holeAfter(arrivals: number[], t: number, next: number): EventEffect {
  let best: { hole: number; resumeAt: number } | null = null;
  for (let i = 1; i < arrivals.length; i++) {
    const a = arrivals[i - 1]!;
    const b = arrivals[i]!;
    if (a < t - 20 || a > Math.min(t + 1000, next)) continue;
    if (b - a > 100 && (!best || b - a > best.hole)) best = { hole: b - a - 20, resumeAt: b };
  }
  return best ? { pauseMs: Math.round(best.hole), onsetToAudioMs: Math.round(best.resumeAt - t), approx: true } : { pauseMs: 0, onsetToAudioMs: null, approx: true };
}
