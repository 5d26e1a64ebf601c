/**
 * Pace points: places on the call thread's hot paths — after each received RTP datagram is handled,
 * before and after each Silero batch run, after each cloud provider's WebSocket message — where a pacer tick that has come due runs at once (Pacer.poll), instead
 * of after everything the event loop had ready before its timer. Measured at bench:load's 200 calls
 * (issue 13): in the windows of late ticks the thread was handling received datagrams ~7.5 ms on
 * average (one loop turn handles every datagram that arrived meanwhile), Silero runs up to ~3 ms.
 *
 *   setPacePoint(() => pacer.poll());   // the agent, once (src/cli/agent-server.ts)
 *   pacePoint();                         // between units of work: one call, a clock read when wired
 */
import { stalls } from "./stall-recorder.ts";

/** `now`: a performance.now() reading taken just before (workDone's), else undefined. */
let hook: ((now?: number) => void) | undefined;

/** A unit of work ended: a due pacer tick runs now. Does nothing until `setPacePoint`. */
export function pacePoint(): void {
  hook?.();
}

/**
 * A unit of work of `kind` (stall-recorder.ts STALL_*) that began at `start` (performance.now() ms) ended:
 * its span is recorded for the pacer's stall log, then a due tick runs (`pacePoint`).
 */
export function workDone(kind: number, start: number): void {
  const end = performance.now();
  stalls.note(kind, start, end);
  hook?.(end); // the span's end is the poll's "now": one clock read per unit, not two
}

/**
 * What `pacePoint` runs (the process's pacer's `poll`). One per process: a later call replaces it.
 * `fn` gets `now`, a performance.now() reading just taken, from `workDone` (undefined from `pacePoint`):
 * a hook whose clock is this thread's performance.now() may use it instead of reading its own.
 * @returns a release that unsets it (only if it was not replaced meanwhile).
 */
export function setPacePoint(fn: (now?: number) => void): () => void {
  hook = fn;
  return () => {
    if (hook === fn) hook = undefined;
  };
}
