/** Errors of the Silero VAD (silero.ts, batcher.ts). */

/** Typed VAD failure. `load_failed` is not retryable within the process lifetime in practice. */
export class VadError extends Error {
  override readonly name = "VadError";
  constructor(
    readonly code: "load_failed" | "inference_failed" | "bad_output",
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
