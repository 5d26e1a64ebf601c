/**
 * The conversation of one call: caller audio → VAD + STT → endpointing → LLM → sentences → TTS → the
 * call's audio output. Barge-in, prompts, time limit, hold, and the agent's own hang-up (BYE after the
 * last packet of the goodbye). This file is the call's lifecycle and wiring, hold and the timers'
 * prompts; the caller's side (speech, turns, keys) is caller-side.ts, the agent's side (replies, cuts,
 * resuming, fixed speech) agent-speech.ts. A state machine (conversation-state.ts)
 * with a SpeechHandle per reply (speech-handle.ts); decisions in turn-taking.ts, timers in
 * call-timers.ts, failures in provider-failures.ts; playback events (src/media/audio-output.ts) drive
 * it, nothing polls. One AbortController per call and per reply; retry lives here only (the next turn
 * tries again).
 */
import { SAMPLE_RATE, type AudioFrame } from "../media/constants";
import type { ChatMessage } from "../providers/types";
import type { StateMachine } from "../util/state-machine";
import { AgentSpeech } from "./agent-speech";
import { CallTimers } from "./call-timers";
import { callUsage, ConversationLog } from "./conversation-log";
import { conversationMachine, type ConversationState } from "./conversation-state";
import { DEFAULT_CONVERSATION, type AgentCallDeps, type ConversationSettings } from "./conversation-settings";
import { TurnDetector, type TurnEnd } from "./endpointing";
import { describeError } from "./provider-failures";
import { FixedSpeech } from "./fixed-speech";
import { DigitCollector } from "./digit-collector";
import { CallerSide } from "./caller-side";
import { StageProviders } from "./stage-providers";
import { SttInput } from "./stt-input";
import type { OutboundAnswer } from "./outbound-answer";
import { outboundAnswerFor, prerenderOpening } from "./outbound-opening";

export { isBackchannel } from "./backchannel";
export { heardPart } from "./heard-text";
export { DEFAULT_CONVERSATION, type ConversationSettings, type SpeechDetector, type SpeechEvents } from "./conversation-settings";
export type { ConversationState } from "./conversation-state";
export type { AgentCallDeps } from "./conversation-settings";

export class AgentCall {
  private readonly settings: ConversationSettings;
  private readonly callCtl = new AbortController();
  private readonly log: ConversationLog;
  private readonly detector: TurnDetector;
  private readonly timers: CallTimers;
  /** The conversation state; every move goes through `to()`, which rejects illegal ones. */
  readonly state: StateMachine<ConversationState>;
  private readonly stt: SttInput;
  /** The LLM and TTS serving this call: the configured ones, or the fallbacks after a failure at call start. */
  private readonly providers: StageProviders;
  private readonly fixed: FixedSpeech;
  /** Caller audio pushed to the STT, ms. */
  private sttAudioMs = 0;
  /** Play-state edge tracking for the VAD's echo rule. */
  private wasPlaying = false;
  private readonly unlisten: () => void;
  private readonly digits: DigitCollector;
  /** The agent's side: replies, cuts, resuming, fixed speech, hang-up and transfer. */
  private readonly speech: AgentSpeech;
  /** The caller's side: speech start/end, turns, keys (caller-side.ts). */
  private readonly caller: CallerSide;
  /**
   * Outbound calls: holds the opening until the callee's first words ended; answering-machine detection.
   * Made with the conversation (at the answer), so caller audio that arrives before `start()` counts.
   */
  private readonly answer: OutboundAnswer | undefined;

  constructor(private readonly d: AgentCallDeps) {
    this.settings = { ...DEFAULT_CONVERSATION, ...d.settings };
    this.log = new ConversationLog(d.record, d.onTurn);
    this.providers = new StageProviders(d, { llm: d.fallbackLlm, tts: d.fallbackTts }, (stage, name) => {
      d.log.warn({ callId: d.record.id, stage, provider: name }, "fallback provider in use for this call");
      this.noteServing(stage, name);
    });
    this.fixed = new FixedSpeech({
      output: d.output,
      signal: this.callCtl.signal,
      callId: d.record.id,
      log: d.log,
      providers: this.providers,
      stopIf: () => this.state.is("on-hold"),
      onSaid: (text, tts) => {
        this.log.agentTurn(text, { usage: { ttsChars: text.length }, tts });
        this.answer?.said(text);
      },
    });
    this.state = conversationMachine((from, to) => d.log.debug?.({ callId: d.record.id, from, to }, "conversation state"));
    this.detector = new TurnDetector(
      d.clock,
      this.settings.endpointing,
      (t) => this.caller.onTurnEnd(t),
      () => this.stt.finalizeAtPause(),
    );
    this.stt = new SttInput({
      ...d,
      callId: d.record.id,
      signal: this.callCtl.signal,
      onFinal: (text, speechFinal, fromFinalize) => {
        if (!this.live) return;
        this.answer?.heard(text, true);
        this.caller.onWords(text, true, fromFinalize); // a paused barge-in is decided before the turn is
        this.detector.final(text, speechFinal, fromFinalize);
      },
      onUtteranceEnd: () => this.live && this.detector.utteranceEnd(),
      onInterim: (text) => {
        if (!this.live) return;
        this.answer?.heard(text, false);
        this.caller.onWords(text, false);
        d.onInterim?.(text);
      },
      onFallback: (p) => this.noteServing("stt", p.name),
      // Recognition is gone for good (a recogniser that keeps crashing): say so and end politely.
      onGiveUp: () => {
        if (!this.live) return;
        d.record.endReason ??= "stt_failed";
        this.endPolitely(this.settings.sttLostText);
      },
    });
    this.digits = new DigitCollector(d.clock, this.settings.digits, (keys, dropped) => this.caller.onDigits(keys, dropped));
    this.timers = new CallTimers(d.clock, this.settings.idlePromptMs, {
      onIdle: (n) => this.onIdle(n),
      onIdleSoon: (n) => this.prepareIdle(n),
      onMaxDuration: () => this.onMaxDuration(),
      onNoWords: () => this.caller.onNoWords(),
    });
    this.speech = new AgentSpeech({
      d,
      settings: this.settings,
      state: this.state,
      log: this.log,
      providers: this.providers,
      fixed: this.fixed,
      timers: this.timers,
      detector: this.detector,
      callSignal: this.callCtl.signal,
      unhandled: (err) => this.unhandled(err),
      expect: (e) => {
        this.stt.expect(e);
        this.digits.configure({ ...this.settings.digits, ...e?.digits });
      },
    });
    this.answer = d.answer && outboundAnswerFor(d, d.answer, this.speech, this.state);
    this.caller = new CallerSide({
      d,
      settings: this.settings,
      state: this.state,
      log: this.log,
      detector: this.detector,
      timers: this.timers,
      speech: this.speech,
      digits: this.digits,
      answer: this.answer,
    });
    this.unlisten = d.output.listen({
      onPlaybackStarted: (e) => this.speech.reply?.segmentId === e.segmentId && this.speech.reply.playbackStarted(),
      onPlaybackFinished: (e) => this.speech.reply?.segmentId === e.segmentId && this.speech.reply.playbackFinished(e),
    });
    d.vad?.listen({
      onSpeechStart: (onsetAgoMs) => this.live && this.caller.onSpeechStart(onsetAgoMs ?? 0),
      onSpeechEnd: (silenceMs) => this.live && this.caller.onSpeechEnd(silenceMs),
      onSpeechPause: (silenceMs) => {
        if (!this.live) return;
        this.caller.onSpeechPause(silenceMs);
        this.detector.speechPaused(this.d.clock.now() - silenceMs);
      },
      onSpeechActivity: () => this.live && this.detector.speechActivity(),
    });
  }

  /**
   * Opens the STT stream and speaks the greeting — on an outbound call (`answer` set) once the callee's
   * first words ended, or not at all when a machine answered (src/pipeline/outbound-answer.ts).
   * Resolves once the STT is open.
   */
  async start(): Promise<void> {
    this.timers.startMaxDuration(this.settings.maxCallMs);
    // The greeting does not wait for the STT handshake: a slow provider must not leave the caller in silence.
    const stt = this.stt.open();
    if (this.state.is("stopped")) return void (await stt);
    if (!this.answer) this.speech.startReply(null, null);
    else prerenderOpening(this.d, this.answer, this.speech, this.providers, this.callCtl.signal);
    await stt;
  }

  /** One 20 ms frame of caller audio. Never throws. Not fed to STT/VAD while the call is on hold. */
  onAudioFrame(frame: AudioFrame): void {
    if (this.state.is("stopped", "on-hold")) return;
    this.stt.push(frame);
    // Caller audio streamed to the STT (never while ringing: media starts on ACK; never on hold: above).
    this.sttAudioMs += (frame.pcm.length / SAMPLE_RATE) * 1000;
    if (this.sttAudioMs % 1000 < 20) callUsage(this.d.record).sttAudioS = Math.round(this.sttAudioMs / 10) / 100;
    // Paused (barge-in-pause.ts): still "speaking" to the VAD, so its barge-in rules keep watching a
    // quiet caller who goes on (the segmenter alone missed one live and the reply went on over them).
    const playing = this.d.output.isPlaying || this.d.output.isPaused;
    if (playing !== this.wasPlaying) {
      this.wasPlaying = playing;
      this.d.vad?.setAgentSpeaking?.(playing);
    }
    this.d.vad?.push(frame.pcm);
    if (this.answer?.pending) this.answer.frame(frame.pcm);
  }

  /**
   * The far end put the call on hold (re-INVITE with sendonly/inactive, RFC 3264 §8.4): a reply in
   * progress stops (what was heard is kept, the rest may resume), and until `resume()` nothing is said,
   * no caller audio reaches STT/VAD and no idle prompt or "are you still there" comes. Idempotent.
   */
  hold(): void {
    if (this.state.is("on-hold", "ending", "stopped")) return;
    const r = this.speech.reply;
    if (r && !r.interrupted) this.speech.cut(r, "hold");
    this.d.output.clearBuffer(); // a prompt playing stops too
    this.timers.pause();
    this.speech.dropPrepared();
    this.state.to("on-hold");
    this.d.log.info({ callId: this.d.record.id }, "conversation on hold");
  }

  /** The call is off hold: the conversation continues where it was (the cut reply's rest, else listening). */
  resume(): void {
    if (!this.state.is("on-hold")) return;
    this.d.log.info({ callId: this.d.record.id }, "conversation resumed");
    this.caller.noWords.clear();
    if (this.speech.resumable) return this.speech.resumeReply("unhold");
    this.state.to("listening");
    this.timers.armIdle();
  }

  /** A failure that escaped the conversation's own handling: reported to the owner, which ends the call. */
  private unhandled(err: unknown): void {
    if (this.state.is("stopped")) return;
    if (this.d.onError) this.d.onError(err);
    else this.d.log.error({ callId: this.d.record.id, err: describeError(err) }, "conversation failed");
  }

  /** Ends the conversation: aborts work, closes streams. Idempotent. */
  stop(): void {
    if (this.state.is("stopped")) return;
    if (this.sttAudioMs > 0) callUsage(this.d.record).sttAudioS = Math.round(this.sttAudioMs / 10) / 100;
    // A reply cut by the end of the call is recorded with what the caller heard of it.
    this.speech.endOfCall();
    this.unlisten();
    this.state.to("stopped");
    this.callCtl.abort();
    this.speech.reply?.interrupt();
    this.detector.dispose();
    this.digits.dispose();
    this.timers.dispose();
    this.stt.close();
    this.d.vad?.close?.();
    for (const t of new Set([this.d.tts, this.providers.tts, this.d.fallbackTts])) t?.closeCall?.(this.d.record.id);
  }

  /**
   * Ends the call politely (shutdown, drain): a short goodbye, then the hang-up after its last packet.
   * Cuts a reply in progress.
   */
  endPolitely(text = this.settings.shutdownText): void {
    this.speech.say(text, true);
  }

  /** The conversation so far (what the caller said, what the caller heard). */
  get transcript(): readonly ChatMessage[] {
    return this.log.history;
  }

  /** Not stopped (events from the VAD and STT are still taken). */
  private get live(): boolean {
    return !this.state.is("stopped");
  }

  /**
   * One DTMF key from the caller (RFC 4733 event or SIP INFO). The first key of a group cuts the agent
   * short (the caller answers the menu); the group (digit-collector.ts) becomes a caller turn
   * `[keys pressed: …]` that the LLM or the scripted dialogue answers.
   */
  onDtmf(key: string): void {
    this.caller.onDtmf(key);
  }

  private noteServing(stage: "stt" | "llm" | "tts", name: string): void {
    this.log.serving(stage, `${name} (fallback)`, { stt: this.d.stt.name, llm: this.d.llm.name, tts: this.d.tts.name });
    this.d.onRecordChanged?.();
  }

  private onIdle(prompt: number): void {
    if (!this.state.is("listening")) return; // replying, on hold, ending: a later playout re-arms it
    if (this.detector.callerSpeaking || this.speech.reply || this.detector.pendingText) return this.timers.rearmIdle();
    const goodbye = prompt > this.settings.idlePromptsBeforeHangup;
    this.speech.say(goodbye ? this.settings.idleGoodbyeText : this.settings.idlePromptText, goodbye);
  }

  /**
   * Shortly before the idle prompt `prompt` is due: render it now (AgentSpeech.prepare), so it starts
   * when the idle time is over, not one synthesis later.
   */
  private prepareIdle(prompt: number): void {
    if (!this.state.is("listening") || this.speech.reply) return;
    this.speech.prepare(prompt > this.settings.idlePromptsBeforeHangup ? this.settings.idleGoodbyeText : this.settings.idlePromptText);
  }

  private onMaxDuration(): void {
    // On hold the caller cannot hear a goodbye: hang up at once.
    if (this.state.is("on-hold")) {
      this.state.to("ending");
      this.d.hangup("max_duration");
      return;
    }
    this.speech.say(this.settings.maxDurationText, true);
  }
}
