/**
 * Cartesia streaming text-to-speech over its WebSocket API, options and defaults.
 *
 * Endpoint: `wss://api.cartesia.ai/tts/websocket?api_key=<key>&cartesia_version=<date>`
 * (https://docs.cartesia.ai/api-reference/tts/websocket; `api_key` and `cartesia_version` may be given as
 * query parameters instead of headers). Contexts and continuations:
 * https://docs.cartesia.ai/use-the-api/tts-websocket/contexts. Output formats (raw container only on the
 * WebSocket; encodings pcm_f32le, pcm_s16le, pcm_mulaw, pcm_alaw; sample rates 8000…48000):
 * https://docs.cartesia.ai/build-with-cartesia/capability-guides/tts-output-audio-format.
 */

import type { Clock } from "../../util/clock";

/** Config names read by the wiring: CARTESIA_API_KEY, CARTESIA_MODEL, CARTESIA_VOICE_ID, CARTESIA_BASE_URL. */
export const CARTESIA_ENV = {
  apiKey: "CARTESIA_API_KEY",
  model: "CARTESIA_MODEL",
  voiceId: "CARTESIA_VOICE_ID",
  baseUrl: "CARTESIA_BASE_URL",
} as const;

/** Encodings we can turn into PCM16 at 8000 Hz without resampling. */
export type CartesiaEncoding = "pcm_mulaw" | "pcm_s16le";

/** When the first audio of a context arrived (for latency metrics). Times are clock ms. */
export interface FirstAudioInfo {
  callId: string;
  contextId: string;
  /** When the first text of the context was sent. */
  firstTextAt: number;
  /** When the first audio chunk arrived. */
  firstAudioAt: number;
  /** firstAudioAt − firstTextAt, ms. */
  latencyMs: number;
}

export interface CartesiaOptions {
  apiKey: string;
  /** Voice id (`voice: { mode: "id", id }`). The wiring defaults it to `CARTESIA_DEFAULTS.voiceId`. */
  voiceId: string;
  /** Model id. Default `sonic-2`. */
  model?: string;
  /** Base URL without path. Default `wss://api.cartesia.ai`; `ws://127.0.0.1:PORT` for a fake. */
  baseUrl?: string;
  /** API version (`cartesia_version`). Default "2025-04-16". */
  version?: string;
  /** Language code sent with every request. Default "en". */
  language?: string;
  /** Wire encoding; both are decoded to PCM16 here. Default `pcm_mulaw` (1 byte per sample: half the
   * bytes of s16le, and what the phone line carries anyway). */
  encoding?: CartesiaEncoding;
  /** `max_buffer_delay_ms` sent with each request when set (Cartesia buffers streamed text up to this long). */
  maxBufferDelayMs?: number;
  /** Handshake limit, ms. Default 5000. */
  connectTimeoutMs?: number;
  /**
   * No audio for this long (ms) while audio is owed fails the context with ProviderError "timeout":
   * from the first text until the first chunk, and from end() between chunks until `done`. (While the
   * context is open and audio has started, a pause may just be the LLM thinking: not judged.)
   * Default 5000; 0 = never.
   */
  audioTimeoutMs?: number;
  /** Close a call's socket after this long (ms) without an open context. Default 60000. */
  idleCloseMs?: number;
  /** Capacity (chunks) of each context's audio queue; the oldest chunk is dropped beyond it. Default 10000. */
  audioQueueCapacity?: number;
  /** Called once per context when its first audio arrives. */
  onFirstAudio?: (info: FirstAudioInfo) => void;
  clock?: Clock;
}

export const CARTESIA_DEFAULTS = {
  model: "sonic-2",
  /**
   * A stock voice of Cartesia's library ("Barbershop Man", the example voice of Cartesia's own client
   * library READMEs since sonic-1), so that CARTESIA_API_KEY alone is enough to start. Any voice id
   * from https://play.cartesia.ai/voices can replace it through CARTESIA_VOICE_ID.
   */
  voiceId: "a0e99841-438c-4a64-b679-ae501e7d6091",
  baseUrl: "wss://api.cartesia.ai",
  version: "2025-04-16",
  language: "en",
  encoding: "pcm_mulaw" as CartesiaEncoding,
  sampleRate: 8000,
  connectTimeoutMs: 5000,
  audioTimeoutMs: 5000,
  idleCloseMs: 60_000,
  audioQueueCapacity: 10_000,
} as const;

/** The TTS WebSocket URL with `api_key` and `cartesia_version` query parameters. */
export function buildTtsUrl(opts: CartesiaOptions): string {
  const base = (opts.baseUrl ?? CARTESIA_DEFAULTS.baseUrl).replace(/\/+$/, "");
  const q = new URLSearchParams({ api_key: opts.apiKey, cartesia_version: opts.version ?? CARTESIA_DEFAULTS.version });
  return `${base}/tts/websocket?${q.toString()}`;
}
