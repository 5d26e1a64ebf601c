/**
 * OpenAI-compatible chat completions (OpenAI, Ollama, llama.cpp server, vLLM…) through the `openai` npm
 * package: `POST {baseURL}/chat/completions` with `stream: true`
 * (https://platform.openai.com/docs/api-reference/chat/create, streaming chunks:
 * https://platform.openai.com/docs/api-reference/chat-streaming).
 */

import type { Clock } from "../../util/clock";
import type { TurnPrompts } from "../gemini/history";

/** Config names read by the wiring: OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL. */
export const OPENAI_ENV = {
  baseUrl: "OPENAI_BASE_URL",
  apiKey: "OPENAI_API_KEY",
  model: "OPENAI_MODEL",
} as const;

export interface OpenAiOptions {
  /** Base URL including the version path, e.g. "http://127.0.0.1:11434/v1" (Ollama). Default: OpenAI's. */
  baseUrl?: string;
  /** Bearer key. Local servers usually need none; a placeholder is sent then (the SDK requires one). */
  apiKey?: string;
  /** Model name as the server knows it (required: there is no sensible default across servers). */
  model: string;
  temperature?: number;
  /** Sent as `max_tokens` when set (the field all compatible servers understand). */
  maxTokens?: number;
  /** No chunk for this long (ms), first or next → ProviderError "timeout". Default 30000 (local models
   * can be slow to load). */
  idleTimeoutMs?: number;
  prompts?: TurnPrompts;
  clock?: Clock;
}

export const OPENAI_DEFAULTS = {
  baseUrl: "https://api.openai.com/v1",
  /** Sent when no key is configured (Ollama, llama.cpp and vLLM ignore it unless started with a key). */
  placeholderApiKey: "not-needed",
  idleTimeoutMs: 30_000,
} as const;
