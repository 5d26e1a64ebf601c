/**
 * What the streaming LLM fakes (Gemini, OpenAI-compatible) share: the fault modes a test can set, the
 * per-request record of what was streamed, and the Server-Sent Events body that plays a reply through
 * those faults (https://html.spec.whatwg.org/multipage/server-sent-events.html: `data: …` events, each
 * ended by a blank line). Each fake keeps its own wire format: routes, auth, error bodies, event JSON.
 */

/** Faults a test can ask for; `E` is what the in-band error event carries besides its position. */
export interface FaultMode<E> {
  /** Answer every request with this HTTP status and the fake's error body (null = normal). */
  status: number | null;
  /** Delay (ms) before the response headers. */
  headersDelayMs: number;
  /** Delay (ms) before each SSE event. */
  chunkDelayMs: number;
  /** After this many events, stop sending but keep the connection open. */
  stallAfter: number | null;
  /** After this many events, send an error event (the fake's in-band error JSON) and end the body. */
  errorAfter: ({ chunks: number } & E) | null;
  /** After this many events, break the connection without ending the body. */
  dropAfter: number | null;
}

/** No fault: every field off. */
export function noFaults<E>(): FaultMode<E> {
  return { status: null, headersDelayMs: 0, chunkDelayMs: 0, stallAfter: null, errorAfter: null, dropAfter: null };
}

/** What a request record tracks of its stream. */
export interface StreamProgress {
  /** Reply events written to this request. */
  chunksSent: number;
  /** True once the client disconnected before the body ended (abort). */
  clientGone: boolean;
  /** True once the body ended normally. */
  finished: boolean;
}

/** Marks `rec.clientGone` when the client aborts before the body ended. */
export function watchClient(req: Request, rec: StreamProgress): void {
  req.signal.addEventListener("abort", () => {
    if (!rec.finished) rec.clientGone = true;
  });
}

/** The next step of a reply: the SSE text to write, and whether the body ends after it. */
export interface SseStep {
  events: string[];
  done: boolean;
}

/**
 * The SSE body of one reply, played through `mode` (read at each event, so a test may change it
 * mid-stream). Before event `i`: chunk delay; then, in this order, the in-band error (`errorEvent`,
 * then end), the drop (the body errors), the stall (nothing more until the client aborts), else
 * `next(i)`. `chunksSent` counts the reply events that were not the last step.
 */
export function faultySseBody<E>(
  req: Request,
  rec: StreamProgress,
  mode: FaultMode<E>,
  next: (i: number) => SseStep,
  errorEvent: (fault: { chunks: number } & E) => string,
): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      if (mode.chunkDelayMs > 0) await Bun.sleep(mode.chunkDelayMs);
      if (rec.clientGone) return;
      if (mode.errorAfter && i === mode.errorAfter.chunks) {
        ctl.enqueue(enc.encode(errorEvent(mode.errorAfter)));
        rec.finished = true;
        ctl.close();
        return;
      }
      if (mode.dropAfter !== null && i === mode.dropAfter) {
        ctl.error(new Error("fake drop (intended: the test breaks the connection mid-stream)"));
        return;
      }
      if (mode.stallAfter !== null && i === mode.stallAfter) {
        await new Promise<void>((resolve) => req.signal.addEventListener("abort", () => resolve(), { once: true }));
        return;
      }
      const step = next(i);
      for (const e of step.events) ctl.enqueue(enc.encode(e));
      if (step.done) {
        rec.finished = true;
        ctl.close();
        return;
      }
      rec.chunksSent++;
      i++;
    },
    cancel() {
      if (!rec.finished) rec.clientGone = true;
    },
  });
}

/** The handle both LLM fakes return: their base URL, the request log, mode and reply setters, close. */
export interface FakeLlmServer<M, R, Q> {
  url: string;
  requests: Q[];
  setMode(m: Partial<M>): void;
  setReply(reply: R): void;
  close(): Promise<void>;
}

/** Builds that handle over a running `Bun.serve` server; `setMode` merges into `mode` in place. */
export function fakeLlmServer<M extends object, R, Q>(
  server: { stop(closeActiveConnections?: boolean): Promise<void> | void },
  url: string,
  requests: Q[],
  mode: M,
  setReply: (reply: R) => void,
): FakeLlmServer<M, R, Q> {
  return {
    url,
    requests,
    setMode(m) {
      Object.assign(mode, m);
    },
    setReply,
    async close() {
      await server.stop(true);
    },
  };
}

/**
 * HTTP statuses an LLM fake can answer before the stream (`setMode({ status })`), with the ProviderError
 * `code` and `retryable` every LLM provider must turn each into (one table for all of them).
 */
export const LLM_HTTP_FAULTS = [
  [401, "auth", false],
  [403, "auth", false],
  [429, "rate_limited", true],
  [500, "unavailable", true],
  [503, "unavailable", true],
  [404, "bad_request", false],
] as const;
