/**
 * "pacer tick late": a pacer tick at least PACER_STALL_LOG_MS late is a gap every caller hears, so it is
 * logged with what held the call thread in the late window (util/stall-recorder.ts): per kind of
 * recorded work (`busy.tick`: the pacer's own previous run, `busy.rx`: RTP receive, `busy.vad`: Silero
 * runs, `busy.ws`: Deepgram/Cartesia WebSocket messages, `busy.end`: calls' teardowns), the rest (`otherMs`: our other JavaScript,
 * garbage collection, the runtime) and — below the default threshold only, where the agent is being
 * diagnosed — the kernel's account of the thread over a window holding the late one (`sched`: ran `runMs`,
 * waited on its core's run queue `queuedMs`, over `wallMs`, from the last read at most ~120 ms before; read
 * around late ticks only, at most 10–20 times a second: ThreadSchedSampler): a thread that waited on the
 * queue for most of the lateness was preempted, not busy.
 * The media worker's ticks are reported in batches after the fact: logged with their lateness only.
 */
import type { Logger } from "../util/log";
import { stalls, ThreadSchedSampler } from "../util/stall-recorder";

/** Default PACER_STALL_LOG_MS: ticks at least this late (ms) are logged. */
export const PACER_STALL_LOG_MS = 50;

export interface PacerStallLogOptions {
  log: Logger;
  /** Ticks at least this late are logged, ms (PACER_STALL_LOG_MS). */
  thresholdMs: number;
  /** Calls on the pacer now. */
  calls: () => number;
  /** The sampler used below the default threshold (tests count its reads). Default a ThreadSchedSampler. */
  sampler?: ThreadSchedSampler;
  /** performance.now() unless given (tests). */
  now?: () => number;
}

/** @returns the hook for every tick's lateness (ms) and where it ran ("call thread" or "media worker"). */
export function pacerStallLog(o: PacerStallLogOptions): (lateMs: number, where: "call thread" | "media worker") => void {
  const sampler = o.thresholdMs < PACER_STALL_LOG_MS ? (o.sampler ?? new ThreadSchedSampler()) : undefined;
  const clock = o.now ?? (() => performance.now());
  return (ms, where) => {
    if (where === "media worker") {
      if (ms >= o.thresholdMs) o.log.warn({ lateMs: Math.round(ms), calls: o.calls(), where }, "pacer tick late");
      return;
    }
    const now = clock();
    const sched = sampler?.sample(now, ms >= o.thresholdMs);
    if (ms < o.thresholdMs) return;
    const { busy, otherMs } = stalls.explain(now - ms, now);
    o.log.warn({ lateMs: Math.round(ms * 10) / 10, calls: o.calls(), where, busy, otherMs, ...(sched ? { sched } : {}) }, "pacer tick late");
  };
}
