/**
 * Deepgram live-streaming wire messages (https://developers.deepgram.com/reference/streaming): the JSON
 * control messages we send and a pure parser for the JSON text frames the server sends. Audio goes out
 * as binary frames (raw G.711 here); every control message MUST be a text frame
 * (https://developers.deepgram.com/docs/audio-keep-alive: "sending it as binary may result in incorrect
 * handling").
 */

/** Client → server control messages. */
export const KEEP_ALIVE = JSON.stringify({ type: "KeepAlive" }); // https://developers.deepgram.com/docs/audio-keep-alive
export const FINALIZE = JSON.stringify({ type: "Finalize" }); // https://developers.deepgram.com/docs/finalize
export const CLOSE_STREAM = JSON.stringify({ type: "CloseStream" }); // https://developers.deepgram.com/docs/close-stream

/**
 * `Results`: a transcript for the time range [start, start+duration] (seconds from the start of *this
 * connection's* audio). `is_final`: the text for that range will not change. `speech_final`: endpointing
 * saw the speaker pause (https://developers.deepgram.com/docs/understand-endpointing-interim-results).
 * `from_finalize`: the result answers our Finalize.
 */
export interface DgResults {
  type: "Results";
  start: number;
  duration: number;
  isFinal: boolean;
  speechFinal: boolean;
  fromFinalize: boolean;
  transcript: string;
  confidence?: number;
}

/** `UtteranceEnd`: a gap of utterance_end_ms after the last final word (https://developers.deepgram.com/docs/utterance-end). */
export interface DgUtteranceEnd {
  type: "UtteranceEnd";
  lastWordEnd?: number;
}

/** `SpeechStarted` (vad_events=true): speech began at `timestamp` s (https://developers.deepgram.com/docs/speech-started). */
export interface DgSpeechStarted {
  type: "SpeechStarted";
  timestamp?: number;
}

/** `Metadata`: sent once per connection, and last after CloseStream (https://developers.deepgram.com/docs/close-stream). */
export interface DgMetadata {
  type: "Metadata";
  requestId?: string;
  duration?: number;
}

/** In-band error description (some deployments send `{type:"Error", description, message}` before closing). */
export interface DgError {
  type: "Error";
  message: string;
}

export type DgServerMessage = DgResults | DgUtteranceEnd | DgSpeechStarted | DgMetadata | DgError;

/** Why a text frame could not be parsed. */
export type DgParseResult = { ok: true; msg: DgServerMessage } | { ok: true; msg: null; ignoredType: string } | { ok: false; error: string };

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/**
 * Parses one server text frame. Unknown `type`s are ignored (`msg: null`), not errors: the protocol adds
 * message kinds over time. Malformed JSON or a `Results` without `channel.alternatives` is an error.
 */
export function parseServerMessage(text: string): DgParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: "not JSON" };
  }
  if (!raw || typeof raw !== "object") return { ok: false, error: "not an object" };
  const o = raw as Record<string, unknown>;
  const type = typeof o.type === "string" ? o.type : "";
  switch (type) {
    case "Results": {
      const channel = o.channel as { alternatives?: unknown } | undefined;
      const alts = channel && Array.isArray(channel.alternatives) ? (channel.alternatives as unknown[]) : null;
      if (!alts) return { ok: false, error: "Results without channel.alternatives" };
      const first = (alts[0] ?? {}) as Record<string, unknown>;
      const transcript = typeof first.transcript === "string" ? first.transcript : "";
      return {
        ok: true,
        msg: {
          type: "Results",
          start: num(o.start) ?? 0,
          duration: num(o.duration) ?? 0,
          isFinal: o.is_final === true,
          speechFinal: o.speech_final === true,
          fromFinalize: o.from_finalize === true,
          transcript,
          confidence: num(first.confidence),
        },
      };
    }
    case "UtteranceEnd":
      return { ok: true, msg: { type: "UtteranceEnd", lastWordEnd: num(o.last_word_end) } };
    case "SpeechStarted":
      return { ok: true, msg: { type: "SpeechStarted", timestamp: num(o.timestamp) } };
    case "Metadata":
      return {
        ok: true,
        msg: { type: "Metadata", requestId: typeof o.request_id === "string" ? o.request_id : undefined, duration: num(o.duration) },
      };
    case "Error": {
      const m = [o.description, o.message, o.variant].filter((x) => typeof x === "string").join(": ");
      return { ok: true, msg: { type: "Error", message: m || "error" } };
    }
    default:
      return { ok: true, msg: null, ignoredType: type || "(none)" };
  }
}
