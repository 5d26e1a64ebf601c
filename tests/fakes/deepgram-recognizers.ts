/**
 * Deterministic stand-ins for a speech recogniser, used by the Deepgram fake. There is no real model
 * here, so "recognition" is a rule the test controls:
 *
 * - `MarkerRecognizer`: content-based. A word is a run (≥ `minWordBytes`) of one byte value listed in the
 *   vocabulary (e.g. 0x20 → "hello"); any other byte is silence. Losing or duplicating audio loses or
 *   duplicates words, so replay after a reconnect is really tested.
 * - `ScriptRecognizer`: energy-based, for real speech (e.g. a TTS voice through G.711). Each stretch of
 *   speech ended by `endpointingMs` of silence is "recognised" as the next line of a script. A
 *   Finalize inside a stretch (a short pause) delivers its line early; speech that goes on before
 *   `endpointingMs` of silence is the rest of the same line and adds no words.
 *
 * Both work in the connection's audio time (seconds = bytes / 8000, G.711 at 8 kHz) and implement the
 * Deepgram semantics we rely on: interim results, `is_final` ranges that tile the audio, `speech_final`
 * after endpointing silence, UtteranceEnd after utterance_end_ms, SpeechStarted, Finalize.
 */

import { ALAW_DECODE, ULAW_DECODE } from "../../src/media/g711";

export type RecEvent =
  | { kind: "interim"; text: string; start: number; end: number }
  | { kind: "final"; text: string; start: number; end: number; speechFinal: boolean; fromFinalize: boolean; words: RecWord[] }
  | { kind: "utterance_end"; lastWordEnd: number }
  | { kind: "speech_started"; timestamp: number };

export interface RecWord {
  word: string;
  start: number;
  end: number;
}

export interface Recognizer {
  feed(bytes: Uint8Array): RecEvent[];
  /** Finalize / CloseStream: everything pending becomes final (`fromFinalize`). */
  finalize(): RecEvent[];
}

export interface RecognizerParams {
  /** `endpointing` query parameter, ms. */
  endpointingMs: number;
  /** `utterance_end_ms` query parameter, ms (0 = off). */
  utteranceEndMs: number;
  vadEvents: boolean;
  interimResults: boolean;
}

const BPS = 8000; // bytes per second
const sec = (bytes: number): number => bytes / BPS;

/** Shared segment bookkeeping: words since the last final, and where the last final ended. */
abstract class SegmentRecognizer implements Recognizer {
  protected pos = 0;
  protected words: RecWord[] = [];
  protected lastFinalEnd = 0;
  protected lastWordEndByte = -1;
  protected silenceBytes = 0;
  protected inSpeech = false;
  protected utterancePending = false;
  constructor(protected readonly p: RecognizerParams) {}

  abstract feed(bytes: Uint8Array): RecEvent[];

  finalize(): RecEvent[] {
    const out: RecEvent[] = [];
    this.closeWordIfAny(out);
    if (this.words.length > 0) out.push(this.final(false, true));
    return out;
  }

  protected abstract closeWordIfAny(out: RecEvent[]): void;

  protected final(speechFinal: boolean, fromFinalize: boolean): RecEvent {
    const ev: RecEvent = {
      kind: "final",
      text: this.words.map((w) => w.word).join(" "),
      start: sec(this.lastFinalEnd),
      end: sec(this.pos),
      speechFinal,
      fromFinalize,
      words: this.words,
    };
    this.words = [];
    this.lastFinalEnd = this.pos;
    this.utterancePending = true;
    return ev;
  }

  /** Called once per byte (or block) of silence; emits speech_final and UtteranceEnd at the thresholds. */
  protected silenceTick(n: number, out: RecEvent[]): void {
    const before = this.silenceBytes;
    this.silenceBytes += n;
    const ep = this.p.endpointingMs * 8;
    if (this.words.length > 0 && before < ep && this.silenceBytes >= ep) out.push(this.final(true, false));
    const ue = this.p.utteranceEndMs * 8;
    if (ue > 0 && this.utterancePending && this.lastWordEndByte >= 0 && before < ue && this.silenceBytes >= ue) {
      out.push({ kind: "utterance_end", lastWordEnd: sec(this.lastWordEndByte) });
      this.utterancePending = false;
    }
  }
}

/** Content-based recogniser: runs of vocabulary bytes are words (see file comment). */
export class MarkerRecognizer extends SegmentRecognizer {
  private runByte = -1;
  private runStart = 0;
  private runLen = 0;
  constructor(
    p: RecognizerParams,
    private readonly vocabulary: ReadonlyMap<number, string>,
    private readonly minWordBytes = 80,
  ) {
    super(p);
  }

  feed(bytes: Uint8Array): RecEvent[] {
    const out: RecEvent[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (b === this.runByte) {
        this.runLen++;
      } else {
        this.closeWordIfAny(out);
        if (this.vocabulary.has(b)) {
          if (!this.inSpeech && this.p.vadEvents) out.push({ kind: "speech_started", timestamp: sec(this.pos) });
          this.inSpeech = true;
          this.runByte = b;
          this.runStart = this.pos;
          this.runLen = 1;
        } else {
          this.runByte = -1;
          this.runLen = 0;
        }
      }
      this.pos++;
      if (this.runByte < 0) this.silenceTick(1, out);
    }
    return out;
  }

  protected closeWordIfAny(out: RecEvent[]): void {
    if (this.runByte >= 0 && this.runLen >= this.minWordBytes) {
      this.words.push({ word: this.vocabulary.get(this.runByte)!, start: sec(this.runStart), end: sec(this.runStart + this.runLen) });
      this.lastWordEndByte = this.runStart + this.runLen;
      this.silenceBytes = 0;
      this.inSpeech = false;
      if (this.p.interimResults) {
        out.push({ kind: "interim", text: this.words.map((w) => w.word).join(" "), start: sec(this.lastFinalEnd), end: sec(this.pos) });
      }
    }
    this.runByte = -1;
    this.runLen = 0;
  }
}

/** Energy-based recogniser: speech stretches become the next scripted transcript (see file comment). */
export class ScriptRecognizer extends SegmentRecognizer {
  /** A Finalize delivered the current line before its stretch was over (see the file comment). */
  private finalizedEarly = false;
  private speechStart = 0;
  private speechBytes = 0;
  private interimSent = false;
  private readonly block = 160; // 20 ms
  private carry: number[] = [];
  constructor(
    p: RecognizerParams,
    private readonly script: string[],
    private readonly codec: "mulaw" | "alaw",
    private readonly rmsThreshold = 600,
  ) {
    super(p);
  }

  feed(bytes: Uint8Array): RecEvent[] {
    const out: RecEvent[] = [];
    const table = this.codec === "mulaw" ? ULAW_DECODE : ALAW_DECODE;
    for (const b of bytes) {
      this.carry.push(b);
      if (this.carry.length < this.block) continue;
      let sum = 0;
      for (const c of this.carry) sum += table[c] * table[c];
      const rms = Math.sqrt(sum / this.carry.length);
      this.carry = [];
      if (rms >= this.rmsThreshold) {
        if (this.finalizedEarly) {
          // The rest of a line already delivered by Finalize.
          this.silenceBytes = 0;
          this.pos += this.block;
          continue;
        }
        if (!this.inSpeech) {
          if (this.p.vadEvents) out.push({ kind: "speech_started", timestamp: sec(this.pos) });
          this.inSpeech = true;
          if (this.speechBytes === 0) this.speechStart = this.pos;
        }
        this.silenceBytes = 0;
        if (this.words.length === 0) this.speechBytes += this.block; // more speech in an open line is that line
        this.pos += this.block;
        if (!this.interimSent && this.p.interimResults && this.speechBytes >= 300 * 8) {
          this.interimSent = true;
          const first = (this.script[0] ?? "").split(" ")[0];
          if (first) out.push({ kind: "interim", text: first, start: sec(this.lastFinalEnd), end: sec(this.pos) });
        }
      } else {
        this.pos += this.block;
        if (this.inSpeech) {
          this.inSpeech = false;
          this.lastWordEndByte = this.pos - this.block;
        }
        // A stretch of speech counts as words once it is 100 ms long; endpointing then finalises it.
        if (this.speechBytes >= 100 * 8 && this.words.length === 0 && this.silenceBytes === 0) this.takeLine();
        this.silenceTick(this.block, out);
        if (this.finalizedEarly && this.silenceBytes >= this.p.endpointingMs * 8) this.finalizedEarly = false;
      }
    }
    return out;
  }

  protected closeWordIfAny(): void {
    if (this.speechBytes >= 100 * 8 && this.words.length === 0) this.takeLine();
  }

  override finalize(): RecEvent[] {
    const out = super.finalize();
    // Finalized before endpointing silence: speech that goes on now is the same line.
    if (out.length > 0 && this.silenceBytes < this.p.endpointingMs * 8) this.finalizedEarly = true;
    if (out.length === 0 && this.pos > this.lastFinalEnd) {
      // Audio since the last final but no new words (the rest of a line already delivered): the
      // answer is an empty final marked from_finalize.
      out.push({ kind: "final", text: "", start: this.lastFinalEnd / 8000, end: this.pos / 8000, speechFinal: false, fromFinalize: true, words: [] });
      this.lastFinalEnd = this.pos;
    }
    return out;
  }

  private takeLine(): void {
    const text = this.script.shift() ?? "";
    const start = sec(this.speechStart);
    const end = sec(this.lastWordEndByte >= 0 ? this.lastWordEndByte : this.pos);
    this.words = text ? text.split(/\s+/).map((w) => ({ word: w, start, end })) : [];
    this.speechBytes = 0;
    this.interimSent = false;
  }
}
