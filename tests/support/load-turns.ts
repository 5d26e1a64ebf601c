/**
 * The load benchmark's reading of a call as turns: when the caller spoke (its script, fixed in its
 * audio file) against the agent's phrases captured on the wire (load-gate.ts `phrasesOf`), so a row can
 * say how many replies each call heard, how long after the caller they started, and whether a reply
 * playing when the caller talked over it stopped (barge-in). Pure; tested in tests/tooling/load-turns.test.ts.
 *
 * Clock: a caller's times are ms from the first packet of the agent's stream to it, taken as the moment
 * the caller's audio started (the agent starts sending at the ACK, when SIPp starts the caller's audio).
 */
import { percentile, phrasesOf } from "./load-gate.ts";
import type { RtpStream } from "./rtp-streams.ts";

/** One caller turn: an utterance, and optionally an interruption into the agent's reply to it. */
export interface CallerTurn {
  /** The utterance ends, ms from the start of the caller's audio. */
  endMs: number;
  /** The caller starts talking over the reply (barge-in), ms; absent when it does not. */
  interruptMs?: number;
  /** The interruption ends, ms. */
  interruptEndMs?: number;
}

/** A reply that ends within this long after the interruption began was cut by it, ms. */
export const BARGE_IN_CUT_MS = 1000;
/** An interruption is judged only if the call's stream goes on this long after it began (not cut by the BYE), ms. */
const JUDGE_AFTER_MS = 2000;

/** What the captured calls heard, turn by turn. */
export interface TurnReading {
  /** Calls whose stream had at least one phrase after the end of the first utterance (a reply). */
  callsWithReply: number;
  /** Such phrases, all calls. */
  replies: number;
  /** Phrase start − end of the utterance it answers (the interruption's end for a phrase after it), ms. */
  latencies: number[];
  /**
   * With interruptions: those judged (the stream went on ≥ 2 s after them), those that began while a
   * reply was playing, and for those the time from the interruption's start to the reply's last frame
   * when it ended within BARGE_IN_CUT_MS (cut).
   */
  bargeIn?: { interruptions: number; overlapped: number; cuts: number[] };
}

/**
 * Reads every stream against its caller's turns (`turnsOf(stream)`, sorted by `endMs`). A phrase
 * before the first turn's end is the greeting; any other answers the last turn that ended before it.
 */
export function readTurns(streams: readonly RtpStream[], turnsOf: (s: RtpStream) => readonly CallerTurn[]): TurnReading {
  const latencies: number[] = [];
  const cuts: number[] = [];
  let replies = 0;
  let callsWithReply = 0;
  let interruptions = 0;
  let overlapped = 0;
  let anyInterruption = false;
  for (const s of streams) {
    const turns = turnsOf(s);
    const t0 = s.audioPackets[0]!.arrivalMs;
    const last = s.audioPackets[s.audioPackets.length - 1]!.arrivalMs;
    const { phrases } = phrasesOf(s);
    let mine = 0;
    for (const p of phrases) {
      const at = p.startMs - t0;
      let k = -1;
      while (k + 1 < turns.length && turns[k + 1]!.endMs <= at) k++;
      if (k < 0) continue; // the greeting
      const t = turns[k]!;
      mine++;
      latencies.push(t.interruptEndMs !== undefined && at >= t.interruptEndMs ? at - t.interruptEndMs : at - t.endMs);
    }
    for (const t of turns) {
      if (t.interruptMs === undefined) continue;
      anyInterruption = true;
      const at = t0 + t.interruptMs;
      if (last < at + JUDGE_AFTER_MS) continue;
      interruptions++;
      const playing = phrases.find((p) => p.startMs < at && p.endMs > at);
      if (!playing) continue;
      overlapped++;
      if (playing.endMs - at <= BARGE_IN_CUT_MS) cuts.push(playing.endMs - at);
    }
    replies += mine;
    if (mine > 0) callsWithReply++;
  }
  return { callsWithReply, replies, latencies, ...(anyInterruption ? { bargeIn: { interruptions, overlapped, cuts } } : {}) };
}

/** The row's barge-in figures (LoadRow.bargeIn) from a reading. */
export function bargeInFigures(b: NonNullable<TurnReading["bargeIn"]>) {
  return { interruptions: b.interruptions, overlapped: b.overlapped, cut: b.cuts.length, p50Ms: percentile(b.cuts, 0.5), p90Ms: percentile(b.cuts, 0.9) };
}

/** The callers of a load row: the SIPp processes placing its calls, and each call's script. */
export interface LoadCallers {
  /** From the first call's start to the last one's, ms. */
  rampMs: number;
  /** From a call's ACK to its BYE, ms. */
  callMs: number;
  /** The turns of the caller an agent stream (agent → caller) was sent to. */
  turnsOf(stream: RtpStream): readonly CallerTurn[];
  /** Starts placing the calls on the agent at 127.0.0.1:`sipPort`. */
  start(sipPort: number): Promise<void>;
  /** Resolves when every caller process has ended: one line per process that failed. */
  finished(): Promise<string[]>;
  /** A hang-up wave (bench:load --hangup-wave), set when the callers start. */
  wave?: HangupWave;
}

/** Calls that hang up together (tests/scenarios/inbound-call-wave.xml). */
export interface HangupWave {
  calls: number;
  /** The first BYE goes out at this time, ms since the Unix epoch (the capture's clock). */
  atMs: number;
  /** The last BYE goes out this long after the first, ms. */
  spreadMs: number;
}
