/**
 * Gemini (Google AI, Gemini API) options and defaults. Calls go through @google/genai 3.3.0
 * (`models.generateContentStream` → `POST {baseUrl}/v1/models/{model}:streamGenerateContent?alt=sse`,
 * key in the `x-goog-api-key` header). REST reference:
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
  /** API version path segment; the SDK's default ("v1" in 3.x) if unset. */
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
  /** The SDK's own default base URL; named here for `prepare()` (the connection opened ahead). */
  baseUrl: "https://generativelanguage.googleapis.com",
  idleTimeoutMs: 15_000,
} as const;
