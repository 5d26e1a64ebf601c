/**
 * What Deepgram's transcript messages mean for the call, as SttEvents: interim text, finals (with
 * speech_final / from_finalize), the empty finals that still end a turn, and utterance ends
 * (https://developers.deepgram.com/docs/understand-endpointing-interim-results).
 *
 * One `TranscriptSegments` per stream: it remembers whether a non-empty final arrived since the last
 * speech_final (an "open segment"), so that an empty speech_final is reported only when it closes one.
 */
import type { SttEvent } from "../types";
import type { DgResults } from "./messages";

export class TranscriptSegments {
  /** A non-empty final arrived since the last speech_final (so an empty speech_final still matters). */
  private openSegment = false;

  /** The event a `Results` message gives, if any. */
  results(m: DgResults): SttEvent | undefined {
    const text = m.transcript.trim();
    if (!m.isFinal) return text ? { type: "interim", text } : undefined;
    if (text) {
      const ev: SttEvent = { type: "final", text, speechFinal: m.speechFinal, confidence: m.confidence };
      if (m.fromFinalize) ev.fromFinalize = true;
      this.openSegment = !m.speechFinal && !m.fromFinalize;
      return ev;
    }
    if (m.fromFinalize) {
      // The answer to our Finalize with nothing new in it: still the end of what was heard
      // (https://developers.deepgram.com/docs/finalize: "the server will process all remaining audio
      // data and return the final results").
      this.openSegment = false;
      return { type: "final", text: "", speechFinal: m.speechFinal, fromFinalize: true };
    }
    if (m.speechFinal && this.openSegment) {
      this.openSegment = false;
      return { type: "final", text: "", speechFinal: true };
    }
    return undefined;
  }

  /** `UtteranceEnd`: a gap of utterance_end_ms after the last final word closes the segment. */
  utteranceEnd(): SttEvent {
    this.openSegment = false;
    return { type: "utterance_end" };
  }
}
