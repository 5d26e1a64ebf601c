/**
 * The agent's pacing: the call thread's Pacer and, with MEDIA_WORKER=on, the media worker (which then
 * sends every packet on its own pacer; this thread's ticks fill and reconcile the calls' rings).
 *
 *  - `pacer_lateness_ms` is the lateness of the pacer that sends: the worker's when it runs, else this one's;
 *    this thread's lateness always feeds the headroom (how busy the call thread is).
 *  - PACER_HOME_PHASES: the calls' shared ticks are spread over that many of the pacer's 4 phases per frame
 *    (each call on the least-loaded one), so one tick carries ~1/4 of the calls (src/rtp/pacer.ts).
 *  - Ticks at least PACER_STALL_LOG_MS late are logged with what held the thread (pacer-stall-log.ts).
 *  - Due ticks run between received datagrams and Silero runs, not after them (util/pace-point.ts): the
 *    returned `unpace` unsets that at shutdown.
 *  - RTP_RX_BUDGET_MS: RTP receive work per event-loop turn is bounded, the rest waits for later slices
 *    (rtp/receive-budget.ts), so the SIP socket is read between them.
 *  - LOOP_TURN_LOG_MS (0 = off): a 5 ms timer on the call thread that fires at least this late was held
 *    by one long turn of the loop: logged as "event loop turn long" with what held the thread (the
 *    stall recorder's spans in the window) and the RTP datagrams waiting in the receive budget's queue.
 *  - RUNTIME_THREADS_NICE: the runtime's helper threads (JIT compiler, allocator, HTTP client, thread pool)
 *    get a higher nice value than the call thread, so they run in its idle time rather than taking the
 *    core from it (util/thread-sched.ts); threads created later are caught every HELPER_RESCAN_MS; the ones
 *    named in RUNTIME_THREADS_NICE_KEEP keep their value.
 *  - CALL_THREAD_SLICE_US: the call thread asks the kernel for a shorter time slice (sched_setattr(2)), so a
 *    timer or socket wake-up of it preempts a helper thread running on the same core (Linux ≥ 6.12).
 */
import type { Config } from "./config";
import type { Headroom } from "../call/headroom";
import type { Metrics } from "../metrics";
import { Pacer } from "../rtp";
import { MediaPlane } from "../rtp/worker/plane";
import { SystemClock, type Clock } from "../util/clock";
import type { Logger } from "../util/log";
import { setPacePoint } from "../util/pace-point";
import { STALL_TICK, stalls } from "../util/stall-recorder";
import { configureRtpReceiveBudget } from "../rtp/receive-budget";
import { raiseHelperThreadsNice, setThreadSlice } from "../util/thread-sched";
import { pacerStallLog } from "./pacer-stall-log";

/** How often threads created since are given RUNTIME_THREADS_NICE, ms. */
const HELPER_RESCAN_MS = 10_000;

export interface PacingDeps {
  cfg: Config;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  headroom: Headroom;
}

export function startPacing(d: PacingDeps): { plane: MediaPlane | undefined; pacer: Pacer; unpace: () => void } {
  const { cfg, clock, log, metrics, headroom } = d;
  const late = pacerStallLog({ log, thresholdMs: cfg.pacerStallLogMs, calls: () => pacer.size });
  const plane = cfg.mediaWorker
    ? MediaPlane.start({ onLateness: (ms) => (metrics.pacerLateness(ms), late(ms, "media worker")), onSkipped: metrics.pacerSkippedTicks, log, sliceUs: cfg.mediaWorkerSliceUs, callThreadNice: cfg.mediaWorkerCallNice })
    : undefined;
  const pacer = new Pacer({
    clock,
    homePhases: cfg.pacerHomePhases,
    onLateness: (ms) => {
      if (!plane) metrics.pacerLateness(ms);
      headroom.recordLateness(ms);
      late(ms, "call thread");
    },
    onSkipped: (ticks) => void (!plane && metrics.pacerSkippedTicks(ticks)),
    onError: (err) => log.error({ err: String(err) }, "pacer source failed"),
    onRan: (start, end) => stalls.note(STALL_TICK, start, end),
  });
  // With the process clock (performance.now()), a pace point's and a datagram's own clock readings stand
  // in for the pacer's and the RTP session's: fewer clock reads per received datagram (issue 13).
  const perfClock = clock instanceof SystemClock;
  const unpace = setPacePoint(perfClock ? (now) => pacer.poll(now) : () => pacer.poll());
  const rx = configureRtpReceiveBudget({ budgetMs: cfg.rtpRxBudgetMs, arrivalTimes: perfClock });
  const stopTurns = cfg.loopTurnLogMs > 0 ? logLongTurns(cfg.loopTurnLogMs, log, () => ({ calls: pacer.size, rxWaiting: rx.pending })) : () => {};
  const stopNice = cfg.runtimeThreadsNice > 0 ? lowerHelpers(cfg.runtimeThreadsNice, new Set(cfg.runtimeThreadsNiceKeep), log) : () => {};
  if (cfg.callThreadSliceUs > 0) {
    const r = setThreadSlice(cfg.callThreadSliceUs);
    if (r.ok) log.info({ sliceUs: cfg.callThreadSliceUs, tid: r.tid }, "call thread time slice set");
    else log.warn({ sliceUs: cfg.callThreadSliceUs, err: r.error }, "call thread time slice not set");
  }
  return { plane, pacer, unpace: () => (unpace(), stopNice(), stopTurns()) };
}

/** Period of the long-turn probe's timer, ms. */
const TURN_PROBE_MS = 5;

/** LOOP_TURN_LOG_MS: a TURN_PROBE_MS timer firing ≥ `minMs` late is logged with the window's spans; @returns the stop. */
function logLongTurns(minMs: number, log: Logger, state: () => { calls: number; rxWaiting: number }): () => void {
  let due = performance.now() + TURN_PROBE_MS;
  let t: ReturnType<typeof setTimeout>;
  const probe = () => {
    const now = performance.now();
    const lateMs = now - due;
    if (lateMs >= minMs) {
      const { busy, otherMs } = stalls.explain(due, now);
      log.warn({ lateMs: Math.round(lateMs * 10) / 10, ...state(), busy, otherMs }, "event loop turn long");
    }
    due = now + TURN_PROBE_MS;
    t = setTimeout(probe, TURN_PROBE_MS);
    t.unref();
  };
  t = setTimeout(probe, TURN_PROBE_MS);
  t.unref();
  return () => clearTimeout(t);
}

/** RUNTIME_THREADS_NICE: now and every HELPER_RESCAN_MS for new threads; @returns the stop. */
function lowerHelpers(by: number, keep: ReadonlySet<string>, log: Logger): () => void {
  const done = new Set<number>();
  const run = () => {
    const r = raiseHelperThreadsNice(by, done, keep);
    if ("error" in r) {
      log.warn({ by, err: r.error }, "helper threads' nice value not raised");
      clearInterval(t);
    } else if (r.changed.length > 0) log.info({ by, threads: r.changed }, "helper threads' nice value raised");
  };
  const t = setInterval(run, HELPER_RESCAN_MS);
  t.unref();
  run();
  return () => clearInterval(t);
}
