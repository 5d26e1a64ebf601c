/**
 * The conversation of one call: caller audio → VAD + STT → endpointing → LLM → sentence chunks → TTS →
 * the call's audio output (RTP playout). Handles barge-in, silence prompts, the maximum call duration and
 * the agent's own hang-up (BYE only after the last packet of the goodbye).
 *
 * One `AbortController` per call and one per reply (STYLE habit 6). Retry lives here and nowhere else:
 * a failed reply speaks a short apology and the next turn tries the providers again.
 */
import type { Clock, TimerHandle } from "../util/clock";
import type { Logger } from "../util/log";
import {
  ProviderError,
  type AudioFrame,
  type ChatMessage,
  type LlmChunk,
  type LlmProvider,
  type SttProvider,
  type SttStream,
  type ToolSpec,
  type TtsProvider,
} from "../providers/types";
import type { AudioOutput, PlaybackFinishedEvent, PlaybackStartedEvent } from "../media/audio-output";
import { SAMPLES_PER_MS } from "../media/constants";
import type { CallRecord, TurnLatency, TurnRecord } from "./call-record";
import { DEFAULT_ENDPOINTING, TurnDetector, type EndpointingSettings, type TurnEnd } from "./endpointing";
import { SentenceSplitter } from "./sentence-splitter";
import { isBackchannel } from "./backchannel";
import { collapse, expectedSamples, heardPart, NOMINAL_SAMPLES_PER_CHAR } from "./heard-text";
import { describeError, logProviderError } from "./provider-failures";

export { isBackchannel } from "./backchannel";
export { heardPart } from "./heard-text";


/** What a speech detector reports. */
export interface SpeechEvents {
  /**
   * Caller speech confirmed (minimum duration reached). `onsetAgoMs`: how long ago (ms) the speech
   * began, i.e. the confirmation delay (default 0).
   */
  onSpeechStart(onsetAgoMs?: number): void;
  /** Caller speech ended; `silenceMs` of silence have already passed since the last speech frame. */
  onSpeechEnd(silenceMs: number): void;
  /**
   * A pause inside caller speech (`silenceMs` of silence so far); the speech may go on (a new
   * `onSpeechStart`) or end (`onSpeechEnd`). Lets endpointing decide before the segment ends.
   */
  onSpeechPause?(silenceMs: number): void;
  /** During a pause, speech-like sound not (yet) confirmed as speech: hold the end-of-turn decision. */
  onSpeechActivity?(): void;
}

/** Caller speech detection (Silero VAD + segmenter), fed one 20 ms frame at a time. */
export interface SpeechDetector {
  listen(events: SpeechEvents): void;
  /** Feeds one 160-sample frame (8 kHz). Events arrive later through `listen`'s callbacks. */
  push(pcm: Int16Array): void;
  /** The agent is (not) playing audio: lets the detector tighten its rule against echo. */
  setAgentSpeaking?(speaking: boolean): void;
  close?(): void;
}

export interface ConversationSettings {
  endpointing: EndpointingSettings;
  /** Caller speech during agent audio interrupts it. */
  bargeIn: boolean;
  /** Silence (ms) after the agent finished before asking whether the caller is still there. */
  idlePromptMs: number;
  /** After this many unanswered prompts the agent says goodbye and hangs up. */
  idlePromptsBeforeHangup: number;
  /** Maximum call duration (ms); then a polite goodbye and hang-up. */
  maxCallMs: number;
  idlePromptText: string;
  idleGoodbyeText: string;
  maxDurationText: string;
  apologyText: string;
  shutdownText: string;
  /**
   * After a barge-in whose words are only a backchannel ("uh-huh", "okay", "right"): "resume" goes on
   * with the rest of the interrupted reply, "reply" treats it as a new turn.
   */
  backchannel: "resume" | "reply";
  /** After a barge-in, if no words arrive within this many ms of the caller's speech ending, resume. */
  noWordsResumeMs: number;
}

export const DEFAULT_CONVERSATION: ConversationSettings = {
  endpointing: DEFAULT_ENDPOINTING,
  bargeIn: true,
  idlePromptMs: 10_000,
  idlePromptsBeforeHangup: 2,
  maxCallMs: 30 * 60_000,
  idlePromptText: "Are you still there?",
  idleGoodbyeText: "I have not heard from you, so I will end the call now. Goodbye.",
  maxDurationText: "We have reached the time limit for this call. Thank you for calling. Goodbye.",
  apologyText: "Sorry, I had a problem just now. Could you say that again?",
  shutdownText: "I am sorry, I have to end the call now. Please call again later. Goodbye.",
  backchannel: "resume",
  noWordsResumeMs: 1500,
};

/**
 * Caller speech that began at most this long (ms) after a reply's first audio cannot be a reaction to
 * the reply (reacting to a heard sound takes ≥ ~200 ms), so it continues the caller's turn: the reply is
 * abandoned and the turns merge instead of a barge-in. Measured (tests/e2e/turn-scenarios.test.ts, a
 * two-part sentence through the compiled agent): with a 900 ms pause the turn ended, 31 ms of reply
 * played, and the second part then counted as a barge-in with a separate caller turn and LLM request.
 */
export const CONTINUATION_GRACE_MS = 200;

export interface AgentCallDeps {
  record: CallRecord;
  clock: Clock;
  log: Logger;
  stt: SttProvider;
  llm: LlmProvider;
  tts: TtsProvider;
  /** Used to speak the apology when the main TTS failed. */
  fallbackTts?: TtsProvider;
  /** Used when the main LLM fails at call start (for the rest of the call). */
  fallbackLlm?: LlmProvider;
  /** Used when the main STT cannot be opened (for the rest of the call). */
  fallbackStt?: SttProvider;
  /** Every provider failure (metrics). */
  onProviderError?: (err: unknown) => void;
  system: string;
  tools: ToolSpec[];
  /** Where reply audio goes: the call's RTP playout (src/media/playout.ts) through the audio-output seam. */
  output: AudioOutput;
  vad?: SpeechDetector;
  codec: "PCMU" | "PCMA";
  settings?: Partial<ConversationSettings>;
  /** Ends the call at the SIP level (BYE). Called after the last packet of the goodbye. */
  hangup: (reason: string) => void;
  /** Receives turn records as they are completed (persistence, metrics). */
  onTurn?: (turn: TurnRecord) => void;
  /** A barge-in happened. */
  onBargeIn?: () => void;
  /**
   * A failure nothing in the conversation handled (a provider breaking its contract, a bug): the owner
   * ends the call (src/call/session.ts). Without it the failure is logged.
   */
  onError?: (err: unknown) => void;
}

interface Reply {
  controller: AbortController;
  /** The output segment carrying this reply's audio (0 until its first audio was captured). */
  segmentId: number;
  /** Clock time (ms) its first frame went out (playback started event). */
  startedAt?: number;
  /** Audio of this reply that went out, ms, once its playback finished (played out or cleared). */
  playedMs?: number;
  /** Latency figures of this reply, completed by playback events. */
  latency: TurnLatency;
  /** ms since the turn's origin (end of caller speech). */
  since: () => number;
  /** Samples of reply audio handed to the output. */
  queuedSamples: number;
  /** The TTS delivered all the audio for `spokenText` (so `queuedSamples` is the whole of it). */
  audioComplete?: boolean;
  /** Text handed to TTS so far. */
  spokenText: string;
  /** Text generated so far (may run ahead of `spokenText`). */
  generated: string;
  /** The model asked to end the call after this reply. */
  endCall: boolean;
  /** The caller turn this reply answers, null for the greeting or a prompt. */
  userText: string | null;
  interrupted: boolean;
  done: Promise<void>;
}

export class AgentCall {
  private readonly settings: ConversationSettings;
  private readonly callCtl = new AbortController();
  private readonly history: ChatMessage[] = [];
  private readonly detector: TurnDetector;
  private stt: SttStream | null = null;
  private reply: Reply | null = null;
  private idleTimer: TimerHandle | undefined;
  private maxTimer: TimerHandle | undefined;
  private idlePrompts = 0;
  private ending = false;
  private stopped = false;
  private readonly startedAt: number;
  /** The unheard rest of a reply cut by a barge-in, while it may still be resumed. */
  private resumable: { text: string; endCall: boolean } | null = null;
  private resumeTimer: TimerHandle | undefined;
  /** The LLM and TTS serving this call: the configured ones, or the fallbacks after a failure at call start. */
  private llm: LlmProvider;
  private tts: TtsProvider;
  /** Audio samples per character of text for this call's voice (measured on completed replies). */
  private samplesPerChar = NOMINAL_SAMPLES_PER_CHAR;
  /** A reply has completed: from now on failures get the apology, not a provider switch. */
  private replied = false;
  /** Play-state edge tracking for the VAD's echo rule. */
  private wasPlaying = false;
  private readonly unlisten: () => void;

  constructor(private readonly d: AgentCallDeps) {
    this.settings = { ...DEFAULT_CONVERSATION, ...d.settings };
    this.llm = d.llm;
    this.tts = d.tts;
    this.detector = new TurnDetector(
      d.clock,
      this.settings.endpointing,
      (t) => this.onTurnEnd(t),
      () => this.stt?.flush(),
    );
    this.startedAt = d.clock.now();
    this.unlisten = d.output.listen({
      onPlaybackStarted: (e) => this.onPlaybackStarted(e),
      onPlaybackFinished: (e) => this.onPlaybackFinished(e),
    });
    d.vad?.listen({
      onSpeechStart: (onsetAgoMs) => !this.stopped && this.onSpeechStart(onsetAgoMs ?? 0),
      onSpeechEnd: (silenceMs) => !this.stopped && this.onSpeechEnd(silenceMs),
      onSpeechPause: (silenceMs) => !this.stopped && this.detector.speechPaused(this.d.clock.now() - silenceMs),
      onSpeechActivity: () => !this.stopped && this.detector.speechActivity(),
    });
  }

  /** Opens the STT stream and speaks the greeting. Resolves once the STT is open. */
  async start(): Promise<void> {
    this.maxTimer = this.d.clock.setTimer(this.settings.maxCallMs, () => this.say(this.settings.maxDurationText, true));
    // The greeting does not wait for the STT handshake: a slow provider must not leave the caller in silence.
    const stt = this.openStt();
    if (!this.stopped) this.startReply(null, null);
    await stt;
  }

  /**
   * Opens the STT stream: the configured provider, else the fallback for the rest of the call (an
   * unreachable provider at call start must not cost the call). Returns false when neither opened.
   */
  private async openStt(): Promise<boolean> {
    const candidates = [this.d.stt, ...(this.d.fallbackStt && this.d.fallbackStt !== this.d.stt ? [this.d.fallbackStt] : [])];
    for (const provider of candidates) {
      if (this.stopped) return false;
      try {
        const stream = await provider.open({ callId: this.d.record.id, signal: this.callCtl.signal, codec: this.d.codec });
        if (this.stopped) {
          stream.close();
          return false;
        }
        this.stt = stream;
        if (provider !== this.d.stt) this.d.log.warn({ callId: this.d.record.id, provider: provider.name }, "stt fallback in use");
        void this.readStt(stream);
        return true;
      } catch (err) {
        this.d.onProviderError?.(err);
        logProviderError(this.d.log, this.d.record.id, err, "stt open failed");
      }
    }
    return false;
  }

  /** One 20 ms frame of caller audio. Never throws. */
  onAudioFrame(frame: AudioFrame): void {
    if (this.stopped) return;
    this.stt?.push(frame);
    const playing = this.d.output.isPlaying;
    if (playing !== this.wasPlaying) {
      this.wasPlaying = playing;
      this.d.vad?.setAgentSpeaking?.(playing);
    }
    this.d.vad?.push(frame.pcm);
  }

  /** A failure that escaped the conversation's own handling: reported to the owner, which ends the call. */
  private unhandled(err: unknown): void {
    if (this.stopped) return;
    if (this.d.onError) this.d.onError(err);
    else this.d.log.error({ callId: this.d.record.id, err: describeError(err) }, "conversation failed");
  }

  /** Ends the conversation: aborts work, closes streams. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    // A reply cut by the end of the call is recorded with what the caller heard of it.
    const r = this.reply;
    if (r && !r.interrupted && r.spokenText) {
      // The conversation's audio stops with it; the finished event tells exactly what went out.
      this.d.output.clearBuffer();
      r.interrupted = true;
      const spoken = collapse(r.spokenText);
      const heard = heardPart(spoken, this.playedSamplesOf(r), expectedSamples(r, spoken, this.samplesPerChar));
      this.recordAgentTurn(r, heard, undefined, undefined, collapse(r.generated));
    }
    this.unlisten();
    this.stopped = true;
    this.callCtl.abort();
    this.reply?.controller.abort();
    this.detector.dispose();
    this.d.clock.clearTimer(this.idleTimer);
    this.d.clock.clearTimer(this.maxTimer);
    this.d.clock.clearTimer(this.resumeTimer);
    this.stt?.close();
    this.d.vad?.close?.();
    for (const t of new Set([this.d.tts, this.tts, this.d.fallbackTts])) t?.closeCall?.(this.d.record.id);
  }

  /**
   * Ends the call politely (shutdown, drain): a short goodbye, then the hang-up after its last packet.
   * Cuts a reply in progress.
   */
  endPolitely(text = this.settings.shutdownText): void {
    this.say(text, true);
  }

  /** The conversation so far (what the caller said, what the caller heard). */
  get transcript(): readonly ChatMessage[] {
    return this.history;
  }

  // ------------------------------------------------------------------ caller side

  private async readStt(stream: SttStream): Promise<void> {
    try {
      for await (const ev of stream.events) {
        if (this.stopped) return;
        if (ev.type === "final") this.detector.final(ev.text, ev.speechFinal, ev.fromFinalize === true);
        else if (ev.type === "utterance_end") this.detector.utteranceEnd();
        else if (ev.type === "error") throw ev.error;
      }
      return;
    } catch (err) {
      if (this.stopped) return;
      this.d.onProviderError?.(err);
      logProviderError(this.d.log, this.d.record.id, err, "stt stream failed");
    }
    // The stream died mid-call (its own reconnects exhausted): open a new one, once per failure.
    if (this.stt === stream && !this.stopped) {
      this.stt = null;
      stream.close();
      await this.openStt();
    }
  }

  private onSpeechEnd(silenceMs: number): void {
    this.detector.speechEnded(this.d.clock.now() - silenceMs);
    if (!this.resumable) {
      // Speech start stopped the idle timer; a sound that brings no turn (a "hmm" without words, the
      // tail of our own echo) must not leave the call without one: without this, a caller who only
      // said "Hmm." after the greeting was never prompted and the call never ended
      // (tests/e2e/turn-scenarios.test.ts "hesitation").
      // (While a prompt plays, its own end arms the timer.)
      if (!this.reply && !this.stopped && !this.d.output.isPlaying) this.armIdleTimer();
      return;
    }
    // A barge-in that carries no words (a cough the VAD took for speech, a noise): go on talking.
    this.d.clock.clearTimer(this.resumeTimer);
    this.resumeTimer = this.d.clock.setTimer(Math.max(0, this.settings.noWordsResumeMs - silenceMs), () => {
      if (this.resumable && !this.reply && !this.detector.callerSpeaking && !this.detector.pendingText) this.resume("no_words");
    });
  }

  private onSpeechStart(onsetAgoMs: number): void {
    this.detector.speechStarted();
    this.d.clock.clearTimer(this.resumeTimer);
    this.d.clock.clearTimer(this.idleTimer);
    this.idlePrompts = 0;
    const r = this.reply;
    if (!r || r.interrupted || this.ending) return;
    // Reply audio played before the caller's speech began (the VAD confirms speech onsetAgoMs late).
    const heardBeforeOnsetMs = this.playedMsOf(r) - onsetAgoMs;
    if (r.userText !== null && heardBeforeOnsetMs <= CONTINUATION_GRACE_MS) {
      // The caller went on talking before hearing the reply: this is one longer turn.
      this.abandonReply(r);
      return;
    }
    if (this.settings.bargeIn && this.d.output.isPlaying) this.bargeIn(r);
  }

  private onTurnEnd(turn: TurnEnd): void {
    if (this.stopped || this.ending) return;
    const now = this.d.clock.now();
    this.addTurn({ speaker: "caller", text: turn.text });
    this.d.log.info({ callId: this.d.record.id, pii: { text: turn.text } }, "caller turn");
    if (this.resumable && this.settings.backchannel === "resume" && isBackchannel(turn.text)) {
      this.resume("backchannel");
      return;
    }
    const r = this.reply;
    if (r && !r.interrupted && this.settings.backchannel === "resume" && r.startedAt !== undefined && isBackchannel(turn.text)) {
      // "uh-huh" over the agent, too short to interrupt it: the caller is listening, the reply goes on.
      this.d.log.info({ callId: this.d.record.id }, "backchannel while the agent speaks");
      return;
    }
    this.resumable = null;
    this.startReply(turn.text, {
      speechEndAt: turn.speechEndAt,
      finalTranscriptMs: Math.max(0, Math.round(turn.finalAt - turn.speechEndAt)),
      now,
    });
  }

  // ------------------------------------------------------------------ agent side

  private startReply(
    userText: string | null,
    timing: { speechEndAt: number; finalTranscriptMs: number; now: number } | null,
    fixedText?: string,
  ): void {
    if (this.reply && !this.reply.interrupted) {
      // A new turn while the previous reply still plays (barge-in off): cut the old one short.
      this.bargeIn(this.reply, false);
    }
    if (userText !== null) this.history.push({ role: "user", text: userText });
    const controller = new AbortController();
    const origin = timing?.speechEndAt ?? this.d.clock.now();
    const reply: Reply = {
      controller,
      segmentId: 0,
      latency: timing ? { finalTranscriptMs: timing.finalTranscriptMs } : {},
      since: () => Math.max(0, Math.round(this.d.clock.now() - origin)),
      queuedSamples: 0,
      spokenText: "",
      generated: "",
      endCall: false,
      userText,
      interrupted: false,
      done: Promise.resolve(),
    };
    this.reply = reply;
    const source = fixedText !== undefined ? fixedSource(fixedText) : undefined;
    reply.done = this.runReply(reply, source);
    reply.done.catch((err) => this.unhandled(err));
  }

  /** Switches a stage to its offline fallback for the rest of the call. False when there is none. */
  private useFallback(kind: "stt" | "llm" | "tts"): boolean {
    const next = kind === "llm" ? this.d.fallbackLlm : kind === "tts" ? this.d.fallbackTts : undefined;
    const current = kind === "llm" ? this.llm : this.tts;
    if (!next || next === current) return false;
    if (kind === "llm") this.llm = next as LlmProvider;
    else this.tts = next as TtsProvider;
    this.d.log.warn({ callId: this.d.record.id, stage: kind, provider: next.name }, "fallback provider in use for this call");
    return true;
  }

  /** Continues an interrupted reply with its unheard rest. */
  private resume(why: string): void {
    const r = this.resumable;
    this.resumable = null;
    this.d.clock.clearTimer(this.resumeTimer);
    if (!r || this.stopped || this.ending) return;
    this.d.log.info({ callId: this.d.record.id, why, pii: { text: r.text } }, "resuming interrupted reply");
    this.startReply(null, null, r.text);
    if (r.endCall && this.reply) this.reply.endCall = true;
  }

  private async runReply(reply: Reply, source?: AsyncIterable<LlmChunk>): Promise<void> {
    const signal = AbortSignal.any([reply.controller.signal, this.callCtl.signal]);
    const { latency, since } = reply;
    let error: unknown = null;
    const tts = this.tts.open({ signal, callId: this.d.record.id });
    const audioDone = this.pumpAudio(reply, tts.audio, signal);
    try {
      const splitter = new SentenceSplitter();
      const send = (chunks: string[]) => {
        for (const c of chunks) {
          reply.spokenText += (reply.spokenText ? " " : "") + c;
          tts.pushText(c);
        }
      };
      const chunks = source ?? this.llm.generate({ system: this.d.system, history: [...this.history], tools: this.d.tools, signal });
      for await (const chunk of chunks) {
        if (signal.aborted) break;
        if (chunk.type === "text") {
          if (latency.firstTokenMs === undefined) latency.firstTokenMs = since();
          reply.generated += chunk.text;
          send(splitter.push(chunk.text));
        } else if (chunk.name === "end_call") {
          reply.endCall = true;
        } else {
          this.d.log.warn({ callId: this.d.record.id, tool: chunk.name }, "unknown tool call ignored");
        }
      }
      send(splitter.flush());
      tts.end();
      await audioDone;
    } catch (err) {
      error = err;
      tts.cancel();
      await audioDone.catch(() => {});
    }
    if (this.stopped) return;
    if (reply.interrupted || reply.controller.signal.aborted) return; // bargeIn/abandon recorded it
    if (error) {
      this.d.onProviderError?.(error);
      logProviderError(this.d.log, this.d.record.id, error, "reply failed");
      if (!this.replied && error instanceof ProviderError && error.code !== "aborted" && this.useFallback(error.kind)) {
        // Call start: the provider is unreachable, so the offline one serves this call from now on.
        if (this.reply === reply) this.reply = null;
        this.d.output.clearBuffer();
        if (reply.userText !== null && this.history.at(-1)?.role === "user") this.history.pop();
        this.startReply(reply.userText, null);
        return;
      }
      this.recordAgentTurn(reply, reply.generated, latency, describeError(error));
      if (this.reply === reply) this.reply = null;
      await this.speakApology();
      return;
    }
    this.d.output.flush();
    if (reply.endCall) this.ending = true;
    // The turn is recorded once it has been heard: a barge-in before then records the heard part instead.
    await this.d.output.waitForPlayout();
    if (this.stopped || reply.interrupted) return;
    this.recordAgentTurn(reply, reply.generated.trim(), latency);
    this.replied = true;
    if (this.reply === reply) this.reply = null;
    if (reply.endCall) await this.hangupAfterPlayout("end_call");
    else this.armIdleTimer();
  }

  /**
   * Moves TTS audio into the output, awaiting its back-pressure (about 2 s ahead of the wire), and
   * notes when the first audio arrived; the playback-started event notes when it went out.
   */
  private async pumpAudio(reply: Reply, audio: AsyncIterable<Int16Array>, signal: AbortSignal): Promise<void> {
    for await (const pcm of audio) {
      if (signal.aborted || reply.interrupted) return;
      if (reply.latency.firstAudioMs === undefined) reply.latency.firstAudioMs = reply.since();
      reply.queuedSamples += pcm.length;
      const room = this.d.output.captureFrame(pcm);
      if (reply.segmentId === 0) reply.segmentId = this.d.output.capturingSegment;
      await room;
    }
    reply.audioComplete = !signal.aborted && !reply.interrupted;
    const chars = collapse(reply.spokenText).length;
    // Learn this voice's rate from a whole reply (at least a sentence's worth of text).
    if (reply.audioComplete && chars >= 20) this.samplesPerChar = reply.queuedSamples / chars;
  }

  private onPlaybackStarted(e: PlaybackStartedEvent): void {
    const r = this.reply;
    if (!r || r.segmentId !== e.segmentId) return;
    r.startedAt = this.d.clock.now();
    r.latency.firstRtpMs = r.since();
  }

  private onPlaybackFinished(e: PlaybackFinishedEvent): void {
    const r = this.reply;
    if (r && r.segmentId === e.segmentId) r.playedMs = e.playedMs;
  }

  /** Reply audio heard so far, ms: exact once its playback finished, else the time since it started. */
  private playedMsOf(r: Reply): number {
    if (r.playedMs !== undefined) return r.playedMs;
    if (r.startedAt === undefined) return 0;
    return Math.min(this.d.clock.now() - r.startedAt, r.queuedSamples / SAMPLES_PER_MS);
  }

  private playedSamplesOf(r: Reply): number {
    return this.playedMsOf(r) * SAMPLES_PER_MS;
  }

  /** The caller spoke over the agent: stop generation and synthesis, drop queued audio, keep what was heard. */
  private bargeIn(reply: Reply, countIt = true): void {
    // Cleared first: the finished event (synchronous) gives exactly what went out.
    this.d.output.clearBuffer();
    reply.interrupted = true;
    reply.controller.abort();
    const played = this.playedSamplesOf(reply);
    const spoken = collapse(reply.spokenText);
    const heard = heardPart(spoken, played, expectedSamples(reply, spoken, this.samplesPerChar));
    this.d.log.info(
      { callId: this.d.record.id, playedMs: Math.round(played / 8), pii: { heard } },
      countIt ? "barge-in" : "reply cut by next turn",
    );
    if (countIt) {
      this.d.record.bargeIns++;
      this.d.onBargeIn?.();
    }
    const generated = collapse(reply.generated);
    this.recordAgentTurn(reply, heard, undefined, undefined, generated);
    if (this.reply === reply) this.reply = null;
    // `spoken` is a prefix of `generated` (consecutive chunks of it), so the rest is what follows `heard`.
    const rest = generated.slice(heard.length).trim();
    this.resumable = countIt && rest ? { text: rest, endCall: reply.endCall } : null;
  }

  /** The caller continued before any reply audio played: forget the reply, merge the turns. */
  private abandonReply(reply: Reply): void {
    this.d.log.info({ callId: this.d.record.id, playedMs: Math.round(this.playedMsOf(reply)) }, "reply abandoned: the caller went on");
    reply.interrupted = true;
    reply.controller.abort();
    this.d.output.clearBuffer();
    if (reply.userText !== null) {
      const last = this.history[this.history.length - 1];
      if (last?.role === "user" && last.text === reply.userText) this.history.pop();
      const turns = this.d.record.turns;
      const t = turns[turns.length - 1];
      if (t?.speaker === "caller" && t.text === reply.userText) turns.pop();
      this.detector.restore(reply.userText);
    }
    if (this.reply === reply) this.reply = null;
  }

  private async speakApology(): Promise<void> {
    const tts = this.d.fallbackTts ?? this.tts;
    await this.speakFixed(this.settings.apologyText, tts).catch((err) =>
      this.d.log.error({ callId: this.d.record.id, err: describeError(err) }, "apology failed"),
    );
    await this.armIdleTimerAfterPlayout();
  }

  /** Speaks fixed text (prompts, goodbyes) outside the LLM; optionally hangs up after it played. */
  private say(text: string, thenHangup: boolean): void {
    if (this.stopped || this.ending) return;
    if (this.reply && !this.reply.interrupted) this.bargeIn(this.reply, false);
    if (thenHangup) this.ending = true;
    void this.speakFixed(text, this.tts)
      .catch(() => this.speakFixed(text, this.d.fallbackTts ?? this.tts))
      .catch((err) => this.d.log.error({ callId: this.d.record.id, err: describeError(err) }, "prompt failed"))
      .then(() => (thenHangup ? this.hangupAfterPlayout("agent_goodbye") : this.armIdleTimerAfterPlayout()));
  }

  /**
   * The idle time counts from the end of what the agent said, not from when it was queued: measured
   * (tests/e2e/turn-scenarios.test.ts, IDLE_PROMPT_S=3) the second prompt came 1.85 s after the end of
   * the first, i.e. 3 s minus the prompt's own 1.15 s.
   */
  private async armIdleTimerAfterPlayout(): Promise<void> {
    await this.d.output.waitForPlayout();
    if (!this.stopped) this.armIdleTimer();
  }

  private async speakFixed(text: string, provider: TtsProvider): Promise<void> {
    const signal = this.callCtl.signal;
    const tts = provider.open({ signal, callId: this.d.record.id });
    tts.pushText(text);
    tts.end();
    for await (const pcm of tts.audio) {
      if (signal.aborted) return;
      await this.d.output.captureFrame(pcm);
    }
    this.d.output.flush();
    this.history.push({ role: "assistant", text });
    this.addTurn({ speaker: "agent", text });
  }

  private async hangupAfterPlayout(reason: string): Promise<void> {
    this.ending = true;
    await this.d.output.waitForPlayout();
    if (!this.stopped) this.d.hangup(reason);
  }

  private armIdleTimer(): void {
    this.d.clock.clearTimer(this.idleTimer);
    if (this.stopped || this.ending) return;
    this.idleTimer = this.d.clock.setTimer(this.settings.idlePromptMs, () => {
      if (this.detector.callerSpeaking || this.reply || this.detector.pendingText) return this.armIdleTimer();
      this.idlePrompts++;
      if (this.idlePrompts > this.settings.idlePromptsBeforeHangup) this.say(this.settings.idleGoodbyeText, true);
      else this.say(this.settings.idlePromptText, false);
    });
  }

  // ------------------------------------------------------------------ records

  private recordAgentTurn(reply: Reply, text: string, latency?: TurnLatency, error?: string, generated?: string): void {
    if (text || !reply.interrupted) this.history.push({ role: "assistant", text: text || "" });
    const turn = this.addTurn({
      speaker: "agent",
      text,
      interrupted: reply.interrupted || undefined,
      generatedText: generated && generated !== text ? generated : undefined,
      latency,
      error,
    });
    void turn;
  }

  private addTurn(t: Omit<TurnRecord, "index" | "at">): TurnRecord {
    const turn: TurnRecord = { index: this.d.record.turns.length, at: new Date().toISOString(), ...t };
    this.d.record.turns.push(turn);
    this.d.onTurn?.(turn);
    return turn;
  }

  /** Call age in ms (for logs). */
  get ageMs(): number {
    return this.d.clock.now() - this.startedAt;
  }
}

async function* fixedSource(text: string): AsyncIterable<LlmChunk> {
  yield { type: "text", text };
}
