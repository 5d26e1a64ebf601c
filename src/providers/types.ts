/**
 * Provider contracts: streaming speech-to-text, streaming LLM, streaming text-to-speech.
 *
 * Audio inside the pipeline is 16-bit signed PCM, mono, 8000 Hz, in 20 ms frames of 160 samples
 * (G.711 narrowband, RFC 3551 §4.5.14). Providers that need another rate resample internally, with state
 * kept per stream. Every long operation takes an AbortSignal (STYLE habit 6). Retry lives in exactly one
 * layer: the pipeline (providers never retry on their own, except where a protocol requires reconnect
 * within a stream, e.g. Deepgram replaying audio after a dropped socket).
 */

import type { AudioFrame } from "../media/constants.ts";
import { AgentError } from "../util/errors.ts";
export type { AudioFrame } from "../media/constants.ts";

// ---------------------------------------------------------------- errors

export type ProviderKind = "stt" | "llm" | "tts";

export type ProviderErrorCode =
  | "auth" // 401/403: key rejected; not retryable
  | "rate_limited" // 429
  | "unavailable" // 5xx, connection refused, socket dropped
  | "timeout" // no answer in time
  | "bad_request" // 4xx other than the above; our bug or bad config
  | "protocol" // peer spoke something we do not understand
  | "aborted"; // cancelled by our own AbortSignal

/**
 * The one error type providers throw, on the project's AgentError base (src/util/errors.ts: `code`,
 * `retryable`, `cause`). `retryable` tells the pipeline whether a later attempt may work; the pipeline
 * decides re-opening and fallback from it in one place (src/pipeline/provider-failures.ts).
 */
export class ProviderError extends AgentError<ProviderErrorCode> {
  override readonly name = "ProviderError";
  constructor(
    readonly provider: string,
    readonly kind: ProviderKind,
    code: ProviderErrorCode,
    message: string,
    retryable: boolean,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(code, message, { retryable, cause: options?.cause });
  }
}

// ---------------------------------------------------------------- STT

/** Events a speech-to-text stream reports, in order of arrival. */
export type SttEvent =
  /** A hypothesis that may still change. */
  | { type: "interim"; text: string }
  /**
   * A segment whose text will not change. `speechFinal`: the provider believes the speaker finished.
   * `fromFinalize`: the answer to our `flush()` (Deepgram `from_finalize`); may carry empty text.
   */
  | { type: "final"; text: string; speechFinal: boolean; confidence?: number; fromFinalize?: boolean }
  /** The provider saw the end of an utterance (e.g. Deepgram UtteranceEnd) after the last final. */
  | { type: "utterance_end" }
  /** The stream failed; no more events follow. */
  | { type: "error"; error: ProviderError };

export interface SttStream {
  /** Queues one 20 ms frame. Never blocks; the stream's internal buffer is bounded. */
  push(frame: AudioFrame): void;
  /** Asks the provider to finalize what it has heard so far (end of turn from our own endpointing). */
  flush(): void;
  /**
   * `flush()` only asks the provider to finalize (Deepgram `Finalize`): no audio is added, so it is
   * cheap to call at every pause the VAD hears. Unset when flushing feeds the recogniser something
   * (pocketsphinx: ~0.5 s of silence), which endpointing then leaves for the end of the turn.
   */
  readonly finalizesOnly?: boolean;
  /** Ends the input and resolves once the last final has been reported (bounded by a timeout). */
  end(): Promise<void>;
  /** Closes at once; pending results are dropped. Idempotent. */
  close(): void;
  /** Results. Ends after `end()`/`close()` or an error event. */
  readonly events: AsyncIterable<SttEvent>;
  /**
   * What the caller's next answer is expected to contain (undefined: anything), for recognisers that
   * can be told (pocketsphinx: a per-step grammar). Optional capability; never blocks.
   */
  expect?(expectation: TurnExpectation | undefined): void;
}

/**
 * What a dialogue step expects of the caller's next turn: from the scripted dialogue
 * (src/providers/scripted), for the recogniser and the key-press grouping.
 */
export interface TurnExpectation {
  /** What kind of answer the step matches `words` for; absent when it matches none (open words). */
  kind?: "category" | "yes_no" | "digits";
  /** Words the answer is matched on (category synonyms, yes/no words, digit words); empty: any words. */
  words: string[];
  /** Key-press grouping for this step (src/pipeline/digit-collector.ts): each field overrides the call's. */
  digits?: { terminator?: string; maxDigits?: number; interDigitMs?: number };
}

export interface SttOpenOptions {
  callId: string;
  signal: AbortSignal;
  /** Codec of the frames that will be pushed. */
  codec: "PCMU" | "PCMA";
}

export interface SttProvider {
  readonly name: string;
  /** Opens one live stream for a call. Throws ProviderError when the provider is unreachable. */
  open(opts: SttOpenOptions): Promise<SttStream>;
  /**
   * Optional: prepares per-call state for `calls` streams before any call (start-up), so that opening
   * a stream does no slow synchronous work. Resolves with how many are ready.
   */
  prewarm?(calls: number): Promise<number>;
}

// ---------------------------------------------------------------- LLM

export interface ChatMessage {
  role: "user" | "assistant";
  text: string;
}

/** A function the model may call (JSON-schema parameters). */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export type LlmChunk =
  | { type: "text"; text: string }
  | { type: "tool_call"; name: string; args: Record<string, unknown> }
  /**
   * What the request cost, from the provider's usage fields (Gemini `usageMetadata.promptTokenCount` /
   * `candidatesTokenCount`, OpenAI `usage.prompt_tokens` / `completion_tokens`): totals for this request,
   * sent once, after the last text or tool call. Absent when the provider reports none.
   */
  | { type: "usage"; inputTokens: number; outputTokens: number };

export interface LlmRequest {
  /** System instruction. */
  system: string;
  /** The conversation so far; the last entry is the caller's latest turn (or empty to speak first). */
  history: ChatMessage[];
  tools: ToolSpec[];
  signal: AbortSignal;
}

export interface LlmProvider {
  readonly name: string;
  /** True when replies come from a script rather than a model (shown in health output). */
  readonly scripted?: boolean;
  /** Streams the reply. Throws ProviderError (also mid-stream). Stops promptly when `signal` aborts. */
  generate(req: LlmRequest): AsyncIterable<LlmChunk>;
  /**
   * What the caller's answer to the reply generated from `history` is expected to be (scripted
   * dialogues know it from the step reached); undefined when open. Pure, cheap, synchronous.
   */
  expectation?(history: readonly ChatMessage[]): TurnExpectation | undefined;
  /**
   * Opens a connection to the service ahead of the first request (DNS, TCP, TLS), e.g. while a call is
   * being set up, so that the greeting's request needs no handshake; nothing when one is open already.
   * Never throws, never waits.
   */
  prepare?(): void;
}

// ---------------------------------------------------------------- TTS

/** One synthesis context: a turn's reply, fed in clause/sentence chunks so prosody can hold across them. */
export interface TtsStream {
  /** Adds a chunk of text (a clause or sentence) to the context. */
  pushText(text: string): void;
  /** No more text for this context; `audio` ends after the last chunk is synthesised. */
  end(): void;
  /** Abandons the context at once (barge-in). `audio` ends. Idempotent. */
  cancel(): void;
  /** 16-bit PCM at 8000 Hz, in chunks of any length. Throws ProviderError on failure. */
  readonly audio: AsyncIterable<Int16Array>;
}

export interface TtsProvider {
  readonly name: string;
  /** Opens a context for one turn. */
  open(opts: { signal: AbortSignal; callId: string }): TtsStream;
  /** The call is over: release what the provider keeps for it (e.g. a WebSocket per call). */
  closeCall?(callId: string): void;
}
