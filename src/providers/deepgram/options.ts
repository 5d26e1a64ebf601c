/**
 * Deepgram live streaming (Nova) options, defaults and the listen URL.
 *
 * Wire protocol: https://developers.deepgram.com/reference/streaming
 * Query parameters used (each documented on its feature page):
 *   encoding=mulaw|alaw, sample_rate=8000, channels=1  https://developers.deepgram.com/docs/encoding
 *                                                      https://developers.deepgram.com/docs/sample-rate
 *   model                                              https://developers.deepgram.com/docs/model
 *   interim_results=true                               https://developers.deepgram.com/docs/interim-results
 *   endpointing=<ms>                                   https://developers.deepgram.com/docs/endpointing
 *   utterance_end_ms=<ms> (needs interim_results)      https://developers.deepgram.com/docs/utterance-end
 *   vad_events=true (SpeechStarted)                    https://developers.deepgram.com/docs/speech-started
 *   smart_format=true                                  https://developers.deepgram.com/docs/smart-format
 * Auth: `Authorization: Token <key>` on the handshake.
 */

import type { Clock } from "../../util/clock";

/** Config names read by the wiring (src/cli): DEEPGRAM_API_KEY, DEEPGRAM_MODEL, DEEPGRAM_BASE_URL, DEEPGRAM_CHUNK_MS. */
export const DEEPGRAM_ENV = {
  apiKey: "DEEPGRAM_API_KEY",
  model: "DEEPGRAM_MODEL",
  baseUrl: "DEEPGRAM_BASE_URL",
  chunkMs: "DEEPGRAM_CHUNK_MS",
} as const;

/** The range `chunkMs` is taken from (DEEPGRAM_CHUNK_MS): whole 20 ms frames, up to Deepgram's advised 250 ms. */
export const DEEPGRAM_CHUNK_MS_RANGE = { min: 20, max: 240, step: 20 } as const;

export interface DeepgramOptions {
  /** API key, sent as `Authorization: Token <key>`. */
  apiKey: string;
  /** Model name. Default `nova-2-phonecall` (trained on 8 kHz telephone audio). */
  model?: string;
  /** Base URL without path, `wss://api.deepgram.com` by default; `ws://127.0.0.1:PORT` for a fake. */
  baseUrl?: string;
  /** BCP-47 language, sent only when set (the model's default otherwise). */
  language?: string;
  /** Silence (ms) after which Deepgram sets `speech_final`. Default 300. */
  endpointingMs?: number;
  /** Gap (ms) after the last final word before `UtteranceEnd`. Default 1000 (Deepgram's minimum). */
  utteranceEndMs?: number;
  /** `smart_format` (punctuation, numerals). Default true. */
  smartFormat?: boolean;
  /** Send `{"type":"KeepAlive"}` after this long (ms) without audio. Default 4000 (docs: every 3–5 s; the
   * server closes with NET-0001 after 10 s without data). */
  keepAliveMs?: number;
  /** Handshake limit (ms) for open() and for each reconnect. Default 5000. */
  connectTimeoutMs?: number;
  /** How long end() waits (ms) for the server to close after CloseStream. Default 3000. */
  endTimeoutMs?: number;
  /** Reconnect attempts after the server drops the socket, before an error event. Default 3. */
  maxReconnectAttempts?: number;
  /** Delay (ms) before reconnect attempt i (last value repeats). Default [0, 250, 1000]. */
  reconnectBackoffMs?: readonly number[];
  /** Audio kept since the last final, for replay after a reconnect (ms of 8 kHz G.711). Default 30000. */
  replayBufferMs?: number;
  /**
   * Watchdog: no message at all from Deepgram for this long while the caller's speech is being sent
   * (at least STALL_MIN_SPEECH_MS of it) → the socket is treated as dead and reconnected with replay.
   * ms; 0 turns it off.
   */
  stallTimeoutMs?: number;
  /** Capacity of the events queue; the oldest event is dropped beyond it. Default 1000. */
  eventQueueCapacity?: number;
  /**
   * Audio per binary message, ms (a multiple of the 20 ms frames; 20 = one message per frame). Default
   * 200, Deepgram's own example ("we recommend sending between 20ms and 250ms of data at once, so 200ms
   * should work well", https://github.com/orgs/deepgram/discussions/224); ten frames per message: 10×
   * fewer sends per call than one per frame. What is held is sent at once before a Finalize or
   * CloseStream, so a turn's end never waits for it; interim words (a barge-in's confirmation) can come
   * up to one message later. Measured against 100 (bench:load --cloud 200 --barge-in, 6 Dec 2026): reply
   * p50 1,138 vs 1,141 ms, barge-in pause → cut p50/p90 294/325 vs 277/328 ms; bench:percall's Deepgram
   * part 0.17–0.26 vs 0.21–0.35 ms CPU per call-second.
   */
  chunkMs?: number;
  /** Time source for keep-alive, timeouts and backoff. Default: the system clock. */
  clock?: Clock;
}

/** Defaults, as typed constants (STYLE habit 8). */
export const DEEPGRAM_DEFAULTS = {
  model: "nova-2-phonecall",
  baseUrl: "wss://api.deepgram.com",
  endpointingMs: 300,
  utteranceEndMs: 1000,
  smartFormat: true,
  keepAliveMs: 4000,
  connectTimeoutMs: 5000,
  endTimeoutMs: 3000,
  maxReconnectAttempts: 3,
  reconnectBackoffMs: [0, 250, 1000] as readonly number[],
  replayBufferMs: 30_000,
  // Deepgram answers every second or so of audio with interim results; 5 s of speech without a word back
  // means the socket is stuck.
  stallTimeoutMs: 5000,
  chunkMs: 200,
  eventQueueCapacity: 1000,
} as const;

/** G.711 at 8000 Hz: one byte per sample, 8 bytes per millisecond (RFC 3551 §4.5.14). */
export const G711_BYTES_PER_MS = 8;
/** Sample rate of what we send (and of Deepgram's timestamps' unit conversion), Hz. */
export const DEEPGRAM_SAMPLE_RATE = 8000;

/** `/v1/listen?…` URL for one stream. `codec` selects `encoding=mulaw` (PCMU) or `alaw` (PCMA). */
export function buildListenUrl(opts: DeepgramOptions, codec: "PCMU" | "PCMA"): string {
  const base = (opts.baseUrl ?? DEEPGRAM_DEFAULTS.baseUrl).replace(/\/+$/, "");
  const q = new URLSearchParams();
  q.set("model", opts.model ?? DEEPGRAM_DEFAULTS.model);
  q.set("encoding", codec === "PCMU" ? "mulaw" : "alaw");
  q.set("sample_rate", String(DEEPGRAM_SAMPLE_RATE));
  q.set("channels", "1");
  q.set("interim_results", "true");
  q.set("endpointing", String(opts.endpointingMs ?? DEEPGRAM_DEFAULTS.endpointingMs));
  q.set("utterance_end_ms", String(opts.utteranceEndMs ?? DEEPGRAM_DEFAULTS.utteranceEndMs));
  q.set("vad_events", "true");
  q.set("smart_format", String(opts.smartFormat ?? DEEPGRAM_DEFAULTS.smartFormat));
  if (opts.language) q.set("language", opts.language);
  return `${base}/v1/listen?${q.toString()}`;
}
