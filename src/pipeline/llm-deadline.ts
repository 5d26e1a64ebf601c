/**
 * LLM watchdog for one reply: no first chunk within `firstTokenMs`, or generation not finished within
 * `totalMs` (both ms, measured on the injected Clock from the request) → the request is aborted and the
 * stream throws ProviderError `timeout` (retryable), so the conversation takes its apology path instead of
 * leaving the caller in silence. Issue 10: "an LLM with no first token after ~3 s gets the apology".
 */
import { timeoutError } from "../providers/errors";
import type { LlmChunk } from "../providers/types";
import type { Clock } from "../util/clock";

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
 */
export async function* withLlmDeadlines(
  generate: (signal: AbortSignal) => AsyncIterable<LlmChunk>,
  o: LlmDeadlines,
): AsyncGenerator<LlmChunk> {
  const watchdog = new AbortController();
  const it = generate(AbortSignal.any([o.signal, watchdog.signal]))[Symbol.asyncIterator]();
  const start = o.clock.now();
  let first = true;
  for (;;) {
    const left = o.totalMs - (o.clock.now() - start);
    const limit = first ? Math.min(o.firstTokenMs, left) : left;
    const what = first && o.firstTokenMs <= left ? "no first token" : "reply not finished";
    const next = await raceClock(it.next(), Math.max(0, limit), o.clock, () => {
      watchdog.abort();
      void it.return?.(undefined)?.catch(() => {});
      return timeoutError({ provider: o.provider, kind: "llm" }, what, first && o.firstTokenMs <= left ? o.firstTokenMs : o.totalMs);
    });
    if (next.done) return;
    first = false;
    yield next.value;
  }
}

/** `p`, or the error `onTimeout()` builds once `ms` passed on `clock`. A late result of `p` is dropped. */
function raceClock<T>(p: Promise<T>, ms: number, clock: Clock, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const h = clock.setTimer(ms, () => {
      if (settled) return;
      settled = true;
      reject(onTimeout());
    });
    p.then(
      (v) => {
        if (settled) return;
        settled = true;
        clock.clearTimer(h);
        resolve(v);
      },
      (e) => {
        if (settled) return;
        settled = true;
        clock.clearTimer(h);
        reject(e);
      },
    );
  });
}
