/**
 * LLM watchdog for one reply: no first chunk within `firstTokenMs`, or generation not finished within
 * `totalMs` (both ms, measured on the injected Clock from the request) → the request is aborted and the
 * stream throws ProviderError `timeout` (retryable), so the conversation takes its apology path instead of
 * leaving the caller in silence. Issue 10: "an LLM with no first token after ~3 s gets the apology".
 */
import { timeoutError } from "../providers/errors";
import type { LlmChunk } from "../providers/types";
import type { Clock, TimerHandle } from "../util/clock";

export interface LlmDeadlines {
  clock: Clock;
  /** Provider name for the error. */
  provider: string;
  /** First chunk (text or tool call) due within this many ms. */
  firstTokenMs: number;
  /** The whole generation due within this many ms. */
  totalMs: number;
  /** The reply's own signal (barge-in, end of call). */
  signal: AbortSignal;
}

/**
 * Runs `generate(signal)` under the deadlines. `generate` receives a signal that also fires on a
 * deadline. Throws what the LLM throws, or ProviderError("timeout") on a missed deadline.
 *
 * One timer per reply (the first-token deadline, then once more for the rest of the total): a chunk
 * only flips `first` (a timer and a promise per chunk showed in a streamed request's CPU profile, issue 13).
 */
export async function* withLlmDeadlines(
  generate: (signal: AbortSignal) => AsyncIterable<LlmChunk>,
  o: LlmDeadlines,
): AsyncGenerator<LlmChunk> {
  const watchdog = new AbortController();
  const it = generate(AbortSignal.any([o.signal, watchdog.signal]))[Symbol.asyncIterator]();
  const start = o.clock.now();
  const firstDue = Math.min(o.firstTokenMs, o.totalMs);
  let first = true;
  let fail: (e: Error) => void = () => {};
  const expired = new Promise<never>((_, reject) => (fail = reject));
  expired.catch(() => {}); // observed through the race below; never an unhandled rejection
  let timer: TimerHandle | undefined;
  const onTimer = (): void => {
    timer = undefined;
    const elapsed = o.clock.now() - start;
    if (!first && elapsed < o.totalMs) {
      timer = o.clock.setTimer(o.totalMs - elapsed, onTimer);
      return;
    }
    const noFirst = first && o.firstTokenMs <= o.totalMs;
    watchdog.abort();
    void it.return?.(undefined)?.catch(() => {});
    fail(timeoutError({ provider: o.provider, kind: "llm" }, noFirst ? "no first token" : "reply not finished", noFirst ? o.firstTokenMs : o.totalMs));
  };
  timer = o.clock.setTimer(Math.max(0, firstDue), onTimer);
  try {
    for (;;) {
      // A late result of `it.next()` (after the deadline) is dropped.
      const next = await Promise.race([it.next(), expired]);
      if (next.done) return;
      first = false;
      yield next.value;
    }
  } finally {
    o.clock.clearTimer(timer);
  }
}
