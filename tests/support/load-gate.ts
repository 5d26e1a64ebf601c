/**
 * The load benchmark's gate, measured from outside (the agent's RTP as captured on the wire): pure
 * functions from captured agent → caller RTP streams to phrases, gaps and silence frames inside
 * phrases, and the gate verdict of one row. Used by tests/support/load.ts (bench:load and its short
 * form in tests/e2e/load.test.ts); tested on synthetic streams in tests/tooling/load-gate.test.ts.
 *
 * Definitions (plivo agent-transport's load test, plus ours):
 * - The agent sends one frame every 20 ms for the whole call, silence between replies, and sets the RTP
 *   marker bit on the first audio frame after a silence frame (RFC 3551 §4.1; src/media/playout.ts).
 *   So a run of silence payloads followed by a marker frame (or the end of the stream) is *sent
 *   silence*; silence payloads followed by an unmarked frame are quiet audio inside a talkspurt.
 *   With RTP_SILENCE_SUPPRESSION=on (src/rtp/silence-suppression.ts) the silence between replies is not
 *   sent (a marked keep-alive silence frame every 400 ms, or CN packets, which are not audio): the
 *   timestamp jumps across it while sequence numbers stay contiguous.
 * - A phrase is a run of talkspurts separated by less than `phraseGapMs` of silence on the RTP
 *   timestamps (sent or not); the sent silence frames inside a phrase are underruns ("no silence frame
 *   inside a phrase").
 * - Gap: inter-arrival − 20 ms between consecutive frames (sequence numbers n, n+1, timestamp +160) inside a phrase,
 *   negative values (a frame early after a late one) counted as 0. Frames lost on the wire (a sequence
 *   jump) are not paired.
 *
 * Units: ms; G.711 frames of 160 bytes (20 ms at 8000 Hz).
 */
import type { CapturedRtpPacket, RtpStream } from "./rtp-streams.ts";

export const FRAME_MS = 20;
/** Sent silence at least this long separates two phrases (the caller speaks ≥ 1.5 s between replies). */
export const PHRASE_GAP_MS = 1000;

/**
 * The gate (issue 13): CPU < 80 % of the core, gap p90 ≤ 5 / p99 ≤ 10 ms, no silence frame inside a phrase,
 * OPTIONS ≤ 50 ms, and the issue's goal for the pacer, "its p99 lateness at full load ≤ 5 ms" (the agent's
 * voice_agent_pacer_lateness_ms histogram over the row's window, read as its bucket's upper bound).
 */
export const GATE = { cpuPct: 80, gapP90Ms: 5, gapP99Ms: 10, underruns: 0, optionsMs: 50, pacerP99Ms: 5 } as const;

export interface Phrase {
  /** Arrival of its first frame, ms (capture clock). */
  startMs: number;
  endMs: number;
  frames: number;
  /** Sent silence frames inside it. */
  underruns: number;
}

export interface StreamPhrases {
  phrases: Phrase[];
  /** inter-arrival − 20 ms of consecutive frames inside phrases, ms, ≥ 0. */
  gaps: number[];
  underruns: number;
}

/** A G.711 silence frame: every byte the same μ-law or A-law zero (0xff/0x7f μ-law, 0xd5/0x55 A-law). */
export function isSilencePayload(payload: Uint8Array): boolean {
  const s = payload[0];
  if (s !== 0xff && s !== 0x7f && s !== 0xd5 && s !== 0x55) return false;
  for (let i = 1; i < payload.length; i++) if (payload[i] !== s) return false;
  return true;
}

/** Phrases, gaps and underruns of one agent → caller stream (audio packets in sequence order). */
export function phrasesOf(stream: Pick<RtpStream, "audioPackets">, phraseGapMs = PHRASE_GAP_MS): StreamPhrases {
  const pk = stream.audioPackets;
  const n = pk.length;
  // sent[i]: packet i is sent silence (a silence payload in a run that ends at a marker frame or the end).
  const sent = new Uint8Array(n);
  for (let i = 0; i < n; ) {
    if (!isSilencePayload(pk[i]!.payload)) {
      i++;
      continue;
    }
    let j = i;
    while (j < n && isSilencePayload(pk[j]!.payload)) j++;
    const isSent = j >= n || pk[j]!.marker || i === 0;
    if (isSent) sent.fill(1, i, j);
    i = j;
  }
  // Phrase index ranges [first, last] over audio frames; sent silence shorter than phraseGapMs joins.
  const ranges: Array<[number, number]> = [];
  let lastAudio = -1;
  for (let i = 0; i < n; i++) {
    if (sent[i]) continue;
    const r = ranges[ranges.length - 1];
    // The silence between by the RTP timestamps (the sender's clock): with RTP_SILENCE_SUPPRESSION the
    // idle ticks were not sent, so counting packets would join two replies into one phrase.
    if (r && (pk[i]!.extTimestamp - pk[lastAudio]!.extTimestamp) / SAMPLES_PER_MS - FRAME_MS < phraseGapMs) r[1] = i;
    else ranges.push([i, i]);
    lastAudio = i;
  }
  const phrases: Phrase[] = [];
  const gaps: number[] = [];
  for (const [first, last] of ranges) {
    let underruns = 0;
    for (let k = first; k <= last; k++) {
      if (sent[k]) underruns++;
      if (k > first && contiguous(pk[k - 1]!, pk[k]!)) gaps.push(Math.max(0, pk[k]!.arrivalMs - pk[k - 1]!.arrivalMs - FRAME_MS));
    }
    phrases.push({ startMs: pk[first]!.arrivalMs, endMs: pk[last]!.arrivalMs, frames: last - first + 1, underruns });
  }
  return { phrases, gaps, underruns: phrases.reduce((s, p) => s + p.underruns, 0) };
}

/** Samples per ms of the G.711 clock (8000 Hz). */
const SAMPLES_PER_MS = 8;

/**
 * Two packets sent on consecutive ticks: sequence n, n+1 and timestamp +160. Across a gap of silence
 * suppression the sequence is contiguous but the timestamp jumps (RFC 3551 §4.1): not a frame gap.
 */
export function contiguous(a: Pick<CapturedRtpPacket, "extSeq" | "extTimestamp">, b: Pick<CapturedRtpPacket, "extSeq" | "extTimestamp">): boolean {
  return b.extSeq === a.extSeq + 1 && b.extTimestamp === a.extTimestamp + FRAME_MS * SAMPLES_PER_MS;
}

/** Percentile `q` (0–1) of `values` (nearest rank on a sorted copy); 0 when empty. */
export function percentile(values: readonly number[], q: number): number {
  if (!values.length) return 0;
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** What calls ending cost the calls that went on, in a window (load-ends.ts `endFigures`). */
export interface EndFigures {
  /** Streams that ended inside the window, and from the first such end to the last, ms. */
  ended: number;
  endedOverMs: number;
  /** Streams that went on past the window. */
  others: number;
  /** The others' frame gaps inside the window, p99 and max, ms. */
  gapP99Ms: number;
  gapMaxMs: number;
  /** The agent's longest logged call-thread loop turn inside the window, ms; absent when none was logged. */
  turnMaxMs?: number;
}

/** An agent's CPU by thread kind (load-probes.ts `threadKind`), % of one core. */
export interface ThreadPct {
  main: number;
  workers: number;
  jit: number;
  gc: number;
  alloc: number;
  http: number;
  rest: number;
}

/** What a row's warm-up wave did (load-warmup.ts; bench:load --warmup): not part of the row's measurement. */
export interface WarmupFigures {
  calls: number;
  holdS: number;
  /** Agent → caller streams captured in the wave; below, calls that heard a reply after the greeting, and those replies. */
  streams: number;
  /** Streams that carried a phrase (the greeting, at least): the agent's audio, not only silence frames. */
  callsGreeted: number;
  callsWithReply: number;
  replies: number;
  /** From its first call's start to the agent holding no call, s. */
  seconds: number;
  /** The agent's CPU over the whole wave (ramp and ends included), % of one core, and by thread kind. */
  cpuPct: number;
  threadPct: ThreadPct;
  /** voice_agent_calls_total (all labels) when the wave had ended: the calls the agent process itself counted. */
  agentCallsEnded: number;
}

/** One row of the benchmark: N calls on one pipeline. */
export interface LoadRow {
  pipeline: "cloud" | "offline";
  /** Which agent ran the row in a before/after (bench:load --compare): "before" / "after"; absent otherwise. */
  label?: string;
  /** "outside" for bench:load's outside callers (tests/support/load-outside.ts); absent for its own. */
  callers?: "outside";
  calls: number;
  /** Calls whose RTP reached the caller. */
  streams: number;
  /** Calls that heard at least one reply after the greeting. */
  callsWithReply: number;
  /** Replies heard (phrases after the greeting), all calls. */
  replies: number;
  /** Reply latency (phrase start − end of the caller's utterance it answers: with `--barge-in`, the interruption for a phrase after it), p50 / p90, ms. */
  replyP50Ms: number;
  replyP90Ms: number;
  /** Mean agent CPU over the full-load window, % of one core. */
  cpuPct: number;
  /** Of `cpuPct`: the agent's main (call) thread, and its Worker threads (the media worker, flite workers), %. */
  mainThreadPct?: number;
  workerThreadPct?: number;
  /**
   * The rest of `cpuPct` by thread kind (load-probes.ts `threadKind`): JavaScriptCore's compiler thread,
   * its GC helpers, mimalloc's scavenger, Bun's HTTP client thread, any other thread, %.
   */
  threadPct?: Omit<ThreadPct, "main" | "workers">;
  /** The warm-up wave the same agent process carried before this row's calls (bench:load --warmup); absent: a fresh agent. */
  warmup?: WarmupFigures;
  /** Busy time of the agent's core (CPU 0, pinned runs) that was not the agent's: others' work, % of the core. */
  otherCpu0Pct?: number;
  /** Peak resident memory, MiB. */
  rssMiB: number;
  /** Peak resident memory of the agent's child processes (offline: one recogniser per call), MiB. */
  childRssMiB?: number;
  gapP50Ms: number;
  gapP90Ms: number;
  gapP99Ms: number;
  gapMaxMs: number;
  underruns: number;
  /**
   * Of `underruns`: frames that went out before the TTS fake had sent the audio they stood in for
   * (tts-timeline.ts `ttsLateSilenceFrames`): the reply's audio itself was late — the load generator —
   * so the gate does not hold them against the agent. Absent when unknown (no TTS fake: offline).
   */
  ttsLate?: number;
  /** Silence frames the media worker sent while a call's playout held audio not yet written ahead (its metric; 0 with the worker off). */
  lateSilence?: number;
  /** OPTIONS answer time during load: p99 and max, ms; unanswered probes. */
  optionsP99Ms: number;
  optionsMaxMs: number;
  optionsLost: number;
  /** The agent's core (CPU 0) just before the row and after its calls ended: CPU µs per unit of fixed work (core-speed.ts); pinned runs only. */
  coreSpeed?: { computeUs: number; memoryUs: number; afterComputeUs: number; afterMemoryUs: number };
  /** The agent's own pacer lateness p99 (from /metrics histogram), ms; -1 unknown. */
  pacerP99Ms: number;
  /** Silero windows per model run in the window (voice_agent_vad_total), the mean batch size; absent when unknown. */
  vadBatch?: number;
  /** Silero windows per call per second of the window (31.25 per stream: one per 32 ms), absent when unknown. */
  vadWindowsPerCallS?: number;
  /** Silero windows skipped by overload shedding (VAD_MAX_LAG_MS) per call per second of the window; absent when unknown. */
  vadSkippedPerCallS?: number;
  /** The most audio any call's VAD had queued behind a window during the window (voice_agent_vad_lag_max_ms), ms; absent when unknown. */
  vadLagMaxMs?: number;
  /**
   * With interrupting callers: the interruptions judged (the call went on ≥ 2 s after them), the replies
   * that were playing when one began, those cut within 1 s of it, and the time from the interruption's
   * start to the reply's last frame (p50/p90, ms).
   */
  bargeIn?: { interruptions?: number; overlapped: number; cut: number; p50Ms: number; p90Ms: number };
  /** The first hang-ups (2 s from the first call's end): what they cost the calls that went on (load-ends.ts). */
  rampDown?: EndFigures;
  /** With a hang-up wave (bench:load --hangup-wave): its calls, and what it cost the calls that went on. */
  wave?: EndFigures & { calls: number };
}

/** Which parts of the gate a row fails (empty = passes). */
export function gateFailures(r: LoadRow): string[] {
  const f: string[] = [];
  if (r.streams < r.calls || r.callsWithReply < r.calls) f.push(`replies heard on ${r.callsWithReply}/${r.calls} calls`);
  if (r.cpuPct >= GATE.cpuPct) f.push(`cpu ${r.cpuPct.toFixed(0)} %`);
  if (r.gapP90Ms > GATE.gapP90Ms) f.push(`gap p90 ${r.gapP90Ms.toFixed(1)} ms`);
  if (r.gapP99Ms > GATE.gapP99Ms) f.push(`gap p99 ${r.gapP99Ms.toFixed(1)} ms`);
  const agentUnderruns = r.underruns - (r.ttsLate ?? 0);
  if (agentUnderruns > GATE.underruns) f.push(`${agentUnderruns} silence frames in phrases${r.ttsLate ? ` (+${r.ttsLate} before the TTS fake sent their audio)` : ""}`);
  if (r.optionsMaxMs > GATE.optionsMs || r.optionsLost > 0) f.push(`OPTIONS max ${r.optionsMaxMs.toFixed(0)} ms, ${r.optionsLost} lost`);
  // Unknown (-1: no histogram read) fails too: a row that cannot show the pacer kept time does not pass.
  if (r.pacerP99Ms < 0 || r.pacerP99Ms > GATE.pacerP99Ms) f.push(r.pacerP99Ms < 0 ? "pacer p99 unknown" : `pacer p99 ${r.pacerP99Ms.toFixed(0)} ms`);
  if (r.bargeIn && (r.bargeIn.overlapped === 0 || r.bargeIn.cut < r.bargeIn.overlapped)) f.push(`barge-in cut ${r.bargeIn.cut}/${r.bargeIn.overlapped} replies`);
  return f;
}

const COLUMNS = ["pipeline", "calls", "replied", "replies", "reply p50/p90", "cpu %", "main/workers %", "jit/gc/alloc/http/rest %", "cpu0 others %", "cpu ms/call-s", "rss MiB (+children)", "gap p50", "p90", "p99", "max", "underruns (late)", "OPTIONS p99/max", "pacer p99", "vad batch (windows/call-s) [skipped/call-s, lag max ms]", "barge-in cut/playing of interruptions, p50/p90", "cpu0 speed before/after µs", "hang-ups: others' gap p99/max (longest turn)", "gate"];

/** The printed table, one row per run. */
export function loadTable(rows: readonly LoadRow[]): string {
  const f1 = (x: number) => x.toFixed(1);
  const lines = rows.map((r) => {
    const fails = gateFailures(r);
    return [
      [r.pipeline, r.callers, r.label, r.warmup && !/\bwarm\b/.test(r.label ?? "") ? "warm" : ""].filter(Boolean).join(" "),
      String(r.calls),
      `${r.callsWithReply}/${r.calls}`,
      String(r.replies),
      `${r.replyP50Ms.toFixed(0)}/${r.replyP90Ms.toFixed(0)}`,
      f1(r.cpuPct),
      r.mainThreadPct === undefined ? "-" : `${f1(r.mainThreadPct)}/${f1(r.workerThreadPct ?? 0)}`,
      r.threadPct ? [r.threadPct.jit, r.threadPct.gc, r.threadPct.alloc, r.threadPct.http, r.threadPct.rest].map(f1).join("/") : "-",
      r.otherCpu0Pct === undefined ? "-" : f1(r.otherCpu0Pct),
      // CPU time per call per second of wall time (10 ms = 1 % of a core): what holds on a shared machine.
      (r.calls ? (r.cpuPct * 10) / r.calls : 0).toFixed(2),
      r.childRssMiB ? `${f1(r.rssMiB)}+${r.childRssMiB.toFixed(0)}` : f1(r.rssMiB),
      f1(r.gapP50Ms),
      f1(r.gapP90Ms),
      f1(r.gapP99Ms),
      f1(r.gapMaxMs),
      (r.lateSilence ? `${r.underruns} (${r.lateSilence})` : String(r.underruns)) + (r.ttsLate ? ` [tts ${r.ttsLate}]` : ""),
      `${f1(r.optionsP99Ms)}/${f1(r.optionsMaxMs)}${r.optionsLost ? ` (${r.optionsLost} lost)` : ""}`,
      r.pacerP99Ms < 0 ? "?" : f1(r.pacerP99Ms),
      (r.vadBatch === undefined ? "-" : f1(r.vadBatch)) + (r.vadWindowsPerCallS === undefined ? "" : ` (${f1(r.vadWindowsPerCallS)})`) +
        (r.vadLagMaxMs === undefined ? "" : ` [${f1(r.vadSkippedPerCallS ?? 0)}, ${r.vadLagMaxMs.toFixed(0)}]`),
      r.bargeIn ? `${r.bargeIn.cut}/${r.bargeIn.overlapped}${r.bargeIn.interruptions === undefined ? "" : ` of ${r.bargeIn.interruptions}`} in ${r.bargeIn.p50Ms.toFixed(0)}/${r.bargeIn.p90Ms.toFixed(0)}` : "-",
      // CPU µs of a fixed compute unit on the agent's idle core before and after the row (core-speed.ts): a
      // slower core costs every row on it more CPU per call, whatever the binary.
      r.coreSpeed ? `${r.coreSpeed.computeUs}/${r.coreSpeed.afterComputeUs}` : "-",
      // Calls ending must not stall the others (load-ends.ts): the first ends, and the wave's (its calls ended over ms).
      [r.rampDown ? `first ${ends(r.rampDown)}` : "", r.wave ? `wave ${r.wave.ended}/${r.wave.calls} in ${r.wave.endedOverMs.toFixed(0)} ms ${ends(r.wave)}` : ""].filter(Boolean).join("; ") || "-",
      fails.length ? `FAIL: ${fails.join("; ")}` : "pass",
    ];
  });
  const all = [COLUMNS, ...lines];
  const width = COLUMNS.map((_, c) => Math.max(...all.map((l) => l[c]!.length)));
  return all.map((l) => l.map((v, c) => (c === l.length - 1 ? v : v.padStart(width[c]!))).join("  ")).join("\n");
}

/** "3.1/9.8 (7)": the others' gap p99/max and the longest logged turn, ms. */
function ends(f: EndFigures): string {
  return `${f.gapP99Ms.toFixed(1)}/${f.gapMaxMs.toFixed(1)}${f.turnMaxMs === undefined ? "" : ` (${f.turnMaxMs.toFixed(0)})`}`;
}

/**
 * The highest N of `pipeline` whose rows all pass, with every lower N's rows passing too; 0 if none.
 * Repeated rows of one N (--repeat) count together: one failing row at N stops it below N.
 */
export function highestPassing(rows: readonly LoadRow[], pipeline: LoadRow["pipeline"]): number {
  let best = 0;
  const mine = rows.filter((r) => r.pipeline === pipeline);
  for (const n of [...new Set(mine.map((r) => r.calls))].sort((a, b) => a - b)) {
    if (mine.some((r) => r.calls === n && gateFailures(r).length)) break;
    best = n;
  }
  return best;
}

/**
 * Rows of `pipeline` passing the whole gate, per N (ascending): what "reliably" is read from when rows of one N
 * differ by 10–20 points of CPU from run to run on a shared machine (README, Load).
 */
export function passCounts(rows: readonly LoadRow[], pipeline: LoadRow["pipeline"]): Array<{ calls: number; passed: number; rows: number }> {
  const mine = rows.filter((r) => r.pipeline === pipeline);
  return [...new Set(mine.map((r) => r.calls))]
    .sort((a, b) => a - b)
    .map((calls) => {
      const at = mine.filter((r) => r.calls === calls);
      return { calls, passed: at.filter((r) => gateFailures(r).length === 0).length, rows: at.length };
    });
}
