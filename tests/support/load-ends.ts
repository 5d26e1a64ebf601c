/**
 * What calls ending cost the calls that go on, read from the capture (agent → caller RTP) and the agent's
 * log: a call's end must not stall the call thread, which paces every other call's frames (issue 13). Used
 * by tests/support/load.ts for a row's first hang-ups (the ramp-down) and for a hang-up wave
 * (bench:load --hangup-wave: many BYEs at once, tests/scenarios/inbound-call-wave.xml). Pure; tested in
 * tests/tooling/load-ends.test.ts.
 *
 * Window: [fromMs, toMs] on the capture's clock (ms since the Unix epoch, as the agent's log `time`).
 * - ended: streams whose last frame falls inside the window; others: streams that go on past it by
 *   OTHERS_PAST_MS (so their end's own teardown is not inside).
 * - gap: inter-arrival − 20 ms of two consecutive frames (sequence numbers n, n+1) of an other stream, both
 *   inside the window, ≥ 0 — silence frames included: the pacer sends them too, and a stall delays them alike.
 * - turn: the longest "event loop turn long" the agent logged inside the window (LOOP_TURN_LOG_MS: a 5 ms
 *   timer on the call thread fired this late), ms; absent when the agent logged none (or was not asked to).
 */
import { contiguous, FRAME_MS, percentile, type EndFigures } from "./load-gate.ts";
import type { RtpStream } from "./rtp-streams.ts";

/** An other stream must go on at least this long after the window, ms. */
export const OTHERS_PAST_MS = 500;

/** An agent log line as the e2e harness parses it (JSON: pino's ISO `time`, `msg`, fields). */
export interface AgentLogLine {
  time?: string;
  msg?: string;
  lateMs?: number;
}

/** The figures of the window [fromMs, toMs] (see the file comment). */
export function endFigures(streams: readonly Pick<RtpStream, "audioPackets">[], fromMs: number, toMs: number, logs: readonly AgentLogLine[] = []): EndFigures {
  const ends: number[] = [];
  const gaps: number[] = [];
  let others = 0;
  for (const s of streams) {
    const pk = s.audioPackets;
    if (pk.length === 0) continue;
    const last = pk[pk.length - 1]!.arrivalMs;
    if (last >= fromMs && last <= toMs) ends.push(last);
    if (last < toMs + OTHERS_PAST_MS || pk[0]!.arrivalMs > fromMs) continue;
    others++;
    for (let i = 1; i < pk.length; i++) {
      const a = pk[i - 1]!;
      const b = pk[i]!;
      if (b.arrivalMs < fromMs || a.arrivalMs < fromMs) continue;
      if (a.arrivalMs > toMs) break;
      if (contiguous(a, b)) gaps.push(Math.max(0, b.arrivalMs - a.arrivalMs - FRAME_MS));
    }
  }
  let turnMaxMs: number | undefined;
  for (const l of logs) {
    if (l.msg !== "event loop turn long" || typeof l.lateMs !== "number" || !l.time) continue;
    const at = Date.parse(l.time);
    if (at >= fromMs && at <= toMs) turnMaxMs = Math.max(turnMaxMs ?? 0, l.lateMs);
  }
  return {
    ended: ends.length,
    endedOverMs: ends.length ? Math.max(...ends) - Math.min(...ends) : 0,
    others,
    gapP99Ms: percentile(gaps, 0.99),
    gapMaxMs: percentile(gaps, 1),
    ...(turnMaxMs === undefined ? {} : { turnMaxMs }),
  };
}
