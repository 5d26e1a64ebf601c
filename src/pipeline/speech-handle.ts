/**
 * One reply of the agent, as livekit agents-js `SpeechHandle` (agents/src/voice/speech_handle.ts): its
 * AbortController, its run LLM → sentences → TTS → audio output, its output segment and playback
 * position, and — when it is interrupted — exactly what the caller heard of it.
 *
 * The handle learns what went out from the output's playback events (src/media/audio-output.ts), never
 * by polling: `playbackStarted` gives the start time and `firstRtpMs`; `playbackFinished` gives the exact
 * `playedMs` (after `clearBuffer()` it fires synchronously, so an interruption reads it at once).
 */
import type { AudioOutput, PlaybackFinishedEvent } from "../media/audio-output";
import { SAMPLES_PER_MS } from "../media/constants";
import type { LlmChunk, TtsProvider } from "../providers/types";
import type { TurnLatency, TurnUsage } from "./call-record";
import { collapse, expectedSamples, heardPart } from "./heard-text";
import { SentenceSplitter } from "./sentence-splitter";
import type { ReplyView } from "./turn-taking";

let nextHandleId = 1;

export interface SpeechRun {
  /** The reply's text: an LLM stream (under its deadlines) or fixed text. */
  source: (signal: AbortSignal) => AsyncIterable<LlmChunk>;
  tts: TtsProvider;
  output: AudioOutput;
  callId: string;
  /** The call's signal (end of call). */
  callSignal: AbortSignal;
  /** A tool call other than end_call: true when it was handled (e.g. send_dtmf), else it is unknown. */
  onTool?: (name: string, args: Record<string, unknown>) => boolean;
  /** A tool call nobody handled. */
  onUnknownTool?: (name: string) => void;
  /** The text is fixed (a resumed rest), not an LLM request: no `llmStartMs`/`llmEndMs`. */
  fixedText?: boolean;
  /** Every tool call the reply made (end_call included), for watchers (the call page). */
  onToolCall?: (name: string, args: Record<string, unknown>) => void;
  /** The reply's text handed to TTS so far, after each sentence: for watchers (the call page). */
  onSaying?: (spokenText: string) => void;
}

export class SpeechHandle {
  readonly id = nextHandleId++;
  /** Aborted by an interruption (barge-in, a newer reply, hold, end of call). */
  readonly controller = new AbortController();
  /** The output segment carrying this reply's audio (0 until its first audio was captured). */
  segmentId = 0;
  /** Clock time (ms) its first frame went out. */
  startedAt: number | undefined;
  /** Audio of this reply that went out, ms, once its playback finished (played out or cleared). */
  playedMs: number | undefined;
  /** Samples of reply audio handed to the output. */
  queuedSamples = 0;
  /** The TTS delivered all the audio for `spokenText` (so `queuedSamples` is the whole of it). */
  audioComplete = false;
  /** Text handed to TTS so far. */
  spokenText = "";
  /** Text generated so far (may run ahead of `spokenText`). */
  generated = "";
  /** The model asked to end the call after this reply. */
  endCall = false;
  /** The text source ran to its end (the whole reply was generated). */
  generationDone = false;
  interrupted = false;
  /** What this reply cost: LLM tokens (provider usage fields), characters sent to TTS. */
  readonly usage: TurnUsage = {};
  /** Latency figures, completed as the stages happen (firstRtpMs by the playback-started event). */
  readonly latency: TurnLatency;

  /**
   * @param userText the caller turn this reply answers; null for the greeting, a prompt or a resumed rest
   * @param origin   clock time (ms) latencies count from: the end of the caller's speech, or now
   */
  constructor(
    readonly userText: string | null,
    private readonly now: () => number,
    private readonly origin: number,
    finalTranscriptMs?: number,
    /** Called once its first frame went out (the critical path of the turn is over). */
    private readonly onStarted?: () => void,
  ) {
    this.latency = finalTranscriptMs === undefined ? {} : { finalTranscriptMs };
  }

  /** ms since the origin (end of caller speech). */
  since(): number {
    return Math.max(0, Math.round(this.now() - this.origin));
  }

  /** Our segment's first frame went out. */
  playbackStarted(): void {
    if (this.startedAt !== undefined) return;
    this.startedAt = this.now();
    this.latency.firstRtpMs = this.since();
    this.onStarted?.();
  }

  /** The reply ended (played out, cut or failed): notes `endMs` and returns the latency figures to record. */
  finish(): TurnLatency {
    this.latency.endMs ??= this.since();
    return this.latency;
  }

  /** Our segment finished (played out, or cut by `clearBuffer`). */
  playbackFinished(e: PlaybackFinishedEvent): void {
    this.playedMs = e.playedMs;
  }

  /** Audio heard so far, ms: exact once playback finished, else the time since it started (≤ what was queued). */
  heardMs(): number {
    if (this.playedMs !== undefined) return this.playedMs;
    if (this.startedAt === undefined) return 0;
    return Math.min(this.now() - this.startedAt, this.queuedSamples / SAMPLES_PER_MS);
  }

  /** What the turn-taking decisions see of it. */
  view(): ReplyView {
    return { userText: this.userText, interrupted: this.interrupted, heardMs: this.heardMs(), started: this.startedAt !== undefined };
  }

  /** Stops generation and synthesis. Idempotent. The caller clears the output first to fix `playedMs`. */
  interrupt(): void {
    this.interrupted = true;
    this.controller.abort();
  }

  /**
   * What the caller heard of the reply, cut back to a word boundary, given the voice's rate
   * (`samplesPerChar`, src/pipeline/heard-text.ts) for audio not yet synthesised.
   */
  heardText(samplesPerChar: number): string {
    const spoken = collapse(this.spokenText);
    return heardPart(spoken, this.heardMs() * SAMPLES_PER_MS, expectedSamples(this, spoken, samplesPerChar));
  }

  /**
   * The generated text after `heard` (what an interrupted reply may resume with). When the generation was
   * cut before its end, only up to the last finished sentence: a resume never ends on a dangling "This is".
   */
  unheardRest(heard: string): string {
    // `spoken` is a prefix of `generated` (consecutive chunks of it), so the rest is what follows `heard`.
    const rest = collapse(this.generated).slice(heard.length).trim();
    if (this.generationDone) return rest;
    return /^.*[.!?](?=\s|$)/.exec(rest)?.[0].trim() ?? "";
  }

  /**
   * Runs the reply: text chunks → sentence splitter → one TTS context → the audio output (awaiting its
   * back-pressure), then `flush()` of the segment. Resolves with the error that ended it, if any: a TTS
   * failure while the LLM still streams stops the LLM at once and is reported as the error.
   */
  async run(r: SpeechRun): Promise<{ error: unknown }> {
    const ttsFailed = new AbortController();
    const signal = AbortSignal.any([this.controller.signal, r.callSignal, ttsFailed.signal]);
    const tts = r.tts.open({ signal, callId: r.callId });
    if (!r.fixedText) this.latency.llmStartMs = this.since();
    let error: unknown = null;
    let ttsError: unknown = null;
    const audioDone = this.pumpAudio(tts.audio, signal, r.output).catch((e) => {
      if (error !== null || signal.aborted) return; // the end of a cancelled context, not a TTS failure
      ttsError = e;
      ttsFailed.abort();
    });
    try {
      const splitter = new SentenceSplitter();
      const send = (chunks: string[]) => {
        for (const c of chunks) {
          this.latency.ttsStartMs ??= this.since();
          this.spokenText += (this.spokenText ? " " : "") + c;
          this.usage.ttsChars = (this.usage.ttsChars ?? 0) + c.length;
          tts.pushText(c);
        }
        if (chunks.length > 0) r.onSaying?.(this.spokenText);
      };
      for await (const chunk of r.source(signal)) {
        if (signal.aborted) break;
        if (chunk.type === "text") {
          if (this.latency.firstTokenMs === undefined) this.latency.firstTokenMs = this.since();
          this.generated += chunk.text;
          send(splitter.push(chunk.text));
        } else if (chunk.type === "usage") {
          this.usage.llmInputTokens = (this.usage.llmInputTokens ?? 0) + chunk.inputTokens;
          this.usage.llmOutputTokens = (this.usage.llmOutputTokens ?? 0) + chunk.outputTokens;
        } else if ((r.onToolCall?.(chunk.name, chunk.args), chunk.name === "end_call")) {
          this.endCall = true;
        } else if (!r.onTool?.(chunk.name, chunk.args)) {
          r.onUnknownTool?.(chunk.name);
        }
      }
      if (!r.fixedText) this.latency.llmEndMs = this.since();
      if (!signal.aborted) {
        this.generationDone = true;
        send(splitter.flush());
        tts.end();
      }
      await audioDone;
    } catch (err) {
      error = err;
      tts.cancel();
      await audioDone;
    }
    if (ttsError) error = ttsError;
    if (!error && !signal.aborted) r.output.flush();
    return { error };
  }

  /** Moves TTS audio into the output, awaiting its back-pressure; notes when the first audio arrived. */
  private async pumpAudio(audio: AsyncIterable<Int16Array>, signal: AbortSignal, output: AudioOutput): Promise<void> {
    for await (const pcm of audio) {
      if (signal.aborted || this.interrupted) return;
      if (this.latency.firstAudioMs === undefined) this.latency.firstAudioMs = this.since();
      this.queuedSamples += pcm.length;
      const room = output.captureFrame(pcm);
      if (this.segmentId === 0) this.segmentId = output.capturingSegment;
      await room;
    }
    this.audioComplete = !signal.aborted && !this.interrupted;
    if (this.audioComplete) this.latency.ttsEndMs = this.since();
  }
}

/** Fixed text as an LLM stream (a resumed rest). */
export async function* fixedSource(text: string): AsyncIterable<LlmChunk> {
  yield { type: "text", text };
}
