/**
 * Gemini (Google AI, Gemini API) options and defaults. Calls are REST over `fetch` (rest.ts:
 * `POST {baseUrl}/v1/models/{model}:streamGenerateContent?alt=sse`, key in the `x-goog-api-key` header).
 * REST reference:
 * https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
 */

import type { Clock } from "../../util/clock";
import type { TurnPrompts } from "./history";

/** Config names read by the wiring: GEMINI_API_KEY, GEMINI_MODEL, GEMINI_BASE_URL. */
export const GEMINI_ENV = {
  apiKey: "GEMINI_API_KEY",
  model: "GEMINI_MODEL",
  baseUrl: "GEMINI_BASE_URL",
} as const;

export interface GeminiOptions {
  apiKey: string;
  /** Model id. Default `gemini-2.0-flash`. */
  model?: string;
  /** Base URL (scheme://host[:port]). Default https://generativelanguage.googleapis.com. */
  baseUrl?: string;
  /** API version path segment; "v1" if unset (provider.ts GEMINI_API_VERSION, @google/genai 3.x's default). */
  apiVersion?: string;
  /** Sampling temperature, sent only when set. */
  temperature?: number;
  /** Reply length cap in tokens, sent only when set. */
  maxOutputTokens?: number;
  /** No chunk for this long (ms), first or next → ProviderError "timeout". Default 15000. */
  idleTimeoutMs?: number;
  /** User turns used when the caller has not spoken (see history.ts). */
  prompts?: TurnPrompts;
  /** Time source for the idle timeout. Default: the system clock. */
  clock?: Clock;
}

export const GEMINI_DEFAULTS = {
  model: "gemini-2.0-flash",
  /** Google's endpoint (also what `prepare()` opens ahead). */
  baseUrl: "https://generativelanguage.googleapis.com",
  idleTimeoutMs: 15_000,
} as const;
