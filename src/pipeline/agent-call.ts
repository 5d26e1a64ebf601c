/**
 * The conversation of one call: caller audio → VAD + STT → endpointing → LLM → sentences → TTS → the
 * call's audio output. Barge-in, prompts, time limit, hold, and the agent's own hang-up (BYE after the
 * last packet of the goodbye). A state machine (conversation-state.ts) with a SpeechHandle per reply
 * (speech-handle.ts); decisions in turn-taking.ts, timers in call-timers.ts, failures in
 * provider-failures.ts; playback events (src/media/audio-output.ts) drive it, nothing polls.
 * One AbortController per call and per reply; retry lives here only (the next turn tries again).
 */
import type { AudioFrame } from "../media/constants";
import type { ChatMessage } from "../providers/types";
import type { StateMachine } from "../util/state-machine";
import { CallTimers } from "./call-timers";
import { callUsage, ConversationLog } from "./conversation-log";
import { SAMPLE_RATE } from "../media/constants";
import { conversationMachine, type ConversationState } from "./conversation-state";
import { DEFAULT_CONVERSATION, type AgentCallDeps, type ConversationSettings } from "./conversation-settings";
import { TurnDetector, type TurnEnd } from "./endpointing";
import { collapse, NOMINAL_SAMPLES_PER_CHAR } from "./heard-text";
import { withLlmDeadlines } from "./llm-deadline";
import { describeError, logProviderError, replyRecovery } from "./provider-failures";
import { FixedSpeech, type PreparedSpeech } from "./fixed-speech";
import { DigitCollector } from "./digit-collector";
import { dtmfTurnText } from "../providers/dtmf-text";
import { sendDtmf } from "../providers/tools/send-dtmf";
import { transferCall } from "../providers/tools/transfer-call";
import { fixedSource, SpeechHandle } from "./speech-handle";
import { StageProviders } from "./stage-providers";
import { SttInput } from "./stt-input";
import { onCallerSpeechStart, onCallerTurn, resumeAfterNoWords } from "./turn-taking";

export { isBackchannel } from "./backchannel";
export { heardPart } from "./heard-text";
export { CONTINUATION_GRACE_MS } from "./turn-taking";
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
  /** The reply (or resumed rest) in progress. */
  private reply: SpeechHandle | null = null;
  /**
   * What a cut reply may resume with: its unheard rest (barge-in, hold), or — a reply cut by hold before
   * anything of it was heard or its generation ended — a new generation from the same history.
   */
  private resumable: { text: string; endCall: boolean } | { regenerate: true } | null = null;
  /** The LLM and TTS serving this call: the configured ones, or the fallbacks after a failure at call start. */
  private readonly providers: StageProviders;
  private readonly fixed: FixedSpeech;
  /** The idle prompt (or goodbye) being rendered ahead of its time (onIdleSoon), for `say`. */
  private preparedIdle: PreparedSpeech | null = null;
  /** Audio samples per character of text for this call's voice (measured on completed replies). */
  private samplesPerChar = NOMINAL_SAMPLES_PER_CHAR;
  /** A reply has completed: from now on failures get the apology, not a provider switch. */
  private replied = false;
  /** Caller audio pushed to the STT, ms. */
  private sttAudioMs = 0;
  /** Play-state edge tracking for the VAD's echo rule. */
  private wasPlaying = false;
  private readonly unlisten: () => void;
  private readonly digits: DigitCollector;
  /** The transfer_call target asked for by the reply in progress (done once its line has played). */
  private transferTo: string | null = null;

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
      onSaid: (text) => this.log.agentTurn(text, { usage: { ttsChars: text.length } }),
    });
    this.state = conversationMachine((from, to) => d.log.debug?.({ callId: d.record.id, from, to }, "conversation state"));
    this.detector = new TurnDetector(
      d.clock,
      this.settings.endpointing,
      (t) => this.onTurnEnd(t),
      () => this.stt.finalizeAtPause(),
    );
    this.stt = new SttInput({
      ...d,
      callId: d.record.id,
      signal: this.callCtl.signal,
      onFinal: (text, speechFinal, fromFinalize) => this.live && this.detector.final(text, speechFinal, fromFinalize),
      onUtteranceEnd: () => this.live && this.detector.utteranceEnd(),
      onInterim: (text) => this.live && d.onInterim?.(text),
      onFallback: (p) => this.noteServing("stt", p.name),
      // Recognition is gone for good (a recogniser that keeps crashing): say so and end politely.
      onGiveUp: () => {
        if (!this.live) return;
        d.record.endReason ??= "stt_failed";
        this.endPolitely(this.settings.sttLostText);
      },
    });
    this.digits = new DigitCollector(d.clock, this.settings.digits, (keys) => this.onDigits(keys));
    this.timers = new CallTimers(d.clock, this.settings.idlePromptMs, {
      onIdle: (n) => this.onIdle(n),
      onIdleSoon: (n) => this.prepareIdle(n),
      onMaxDuration: () => this.onMaxDuration(),
      onNoWords: () => this.onNoWords(),
    });
    this.unlisten = d.output.listen({
      onPlaybackStarted: (e) => this.reply?.segmentId === e.segmentId && this.reply.playbackStarted(),
      onPlaybackFinished: (e) => this.reply?.segmentId === e.segmentId && this.reply.playbackFinished(e),
    });
    d.vad?.listen({
      onSpeechStart: (onsetAgoMs) => this.live && this.onSpeechStart(onsetAgoMs ?? 0),
      onSpeechEnd: (silenceMs) => this.live && this.onSpeechEnd(silenceMs),
      onSpeechPause: (silenceMs) => this.live && this.detector.speechPaused(this.d.clock.now() - silenceMs),
      onSpeechActivity: () => this.live && this.detector.speechActivity(),
    });
  }

  /** Opens the STT stream and speaks the greeting. Resolves once the STT is open. */
  async start(): Promise<void> {
    this.timers.startMaxDuration(this.settings.maxCallMs);
    // The greeting does not wait for the STT handshake: a slow provider must not leave the caller in silence.
    const stt = this.stt.open();
    if (!this.state.is("stopped")) this.startReply(null, null);
    await stt;
  }

  /** One 20 ms frame of caller audio. Never throws. Not fed to STT/VAD while the call is on hold. */
  onAudioFrame(frame: AudioFrame): void {
    if (this.state.is("stopped", "on-hold")) return;
    this.stt.push(frame);
    // Caller audio streamed to the STT (never while ringing: media starts on ACK; never on hold: above).
    this.sttAudioMs += (frame.pcm.length / SAMPLE_RATE) * 1000;
    if (this.sttAudioMs % 1000 < 20) callUsage(this.d.record).sttAudioS = Math.round(this.sttAudioMs / 10) / 100;
    const playing = this.d.output.isPlaying;
    if (playing !== this.wasPlaying) {
      this.wasPlaying = playing;
      this.d.vad?.setAgentSpeaking?.(playing);
    }
    this.d.vad?.push(frame.pcm);
  }

  /**
   * The far end put the call on hold (re-INVITE with sendonly/inactive, RFC 3264 §8.4): a reply in
   * progress stops (what was heard is kept, the rest may resume), and until `resume()` nothing is said,
   * no caller audio reaches STT/VAD and no idle prompt or "are you still there" comes. Idempotent.
   */
  hold(): void {
    if (this.state.is("on-hold", "ending", "stopped")) return;
    const r = this.reply;
    if (r && !r.interrupted) this.cut(r, "hold");
    this.d.output.clearBuffer(); // a prompt playing stops too
    this.timers.pause();
    this.dropPreparedIdle();
    this.state.to("on-hold");
    this.d.log.info({ callId: this.d.record.id }, "conversation on hold");
  }

  /** The call is off hold: the conversation continues where it was (the cut reply's rest, else listening). */
  resume(): void {
    if (!this.state.is("on-hold")) return;
    this.d.log.info({ callId: this.d.record.id }, "conversation resumed");
    if (this.resumable) return this.resumeReply("unhold");
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
    const r = this.reply;
    if (r && !r.interrupted && r.spokenText) {
      this.d.output.clearBuffer(); // the finished event fixes exactly what went out
      r.interrupt();
      this.log.agentTurn(r.heardText(this.samplesPerChar), { interrupted: true, generated: collapse(r.generated), latency: r.latency, usage: r.usage });
    }
    this.unlisten();
    this.state.to("stopped");
    this.callCtl.abort();
    this.reply?.interrupt();
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
    this.say(text, true);
  }

  /** The conversation so far (what the caller said, what the caller heard). */
  get transcript(): readonly ChatMessage[] {
    return this.log.history;
  }

  /** Not stopped (events from the VAD and STT are still taken). */
  private get live(): boolean {
    return !this.state.is("stopped");
  }

  // ------------------------------------------------------------------ caller side

  private onSpeechStart(onsetAgoMs: number): void {
    if (this.state.is("on-hold")) return;
    this.detector.speechStarted();
    this.timers.callerSpoke();
    this.dropPreparedIdle();
    const r = this.reply;
    if (!r || this.state.is("ending")) return;
    const decision = onCallerSpeechStart({
      reply: r.view(),
      onsetAgoMs,
      bargeIn: this.settings.bargeIn,
      agentAudible: this.d.output.isPlaying,
    });
    if (decision === "continue_turn") this.abandonReply(r);
    else if (decision === "barge_in") this.cut(r, "barge-in");
  }

  private onSpeechEnd(silenceMs: number): void {
    if (this.state.is("on-hold")) return;
    this.detector.speechEnded(this.d.clock.now() - silenceMs);
    if (!this.resumable) {
      // Speech start stopped the idle timer; a sound that brings no turn (a "hmm" without words, the
      // tail of our own echo) must not leave the call without one: without this, a caller who only
      // said "Hmm." after the greeting was never prompted and the call never ended
      // (tests/e2e/turn-scenarios.test.ts "hesitation").
      // (While a prompt plays, its own end arms the timer.)
      if (!this.reply && !this.state.is("ending") && !this.d.output.isPlaying) this.timers.armIdle();
      return;
    }
    // A barge-in that carries no words (a cough the VAD took for speech, a noise): go on talking.
    this.timers.armNoWords(this.settings.noWordsResumeMs - silenceMs);
  }

  private onNoWords(): void {
    const go = resumeAfterNoWords({
      resumable: !!this.resumable,
      replying: !!this.reply,
      callerSpeaking: this.detector.callerSpeaking,
      pendingText: this.detector.pendingText,
    });
    if (go && !this.state.is("on-hold")) this.resumeReply("no_words");
  }

  /**
   * One DTMF key from the caller (RFC 4733 event or SIP INFO). The first key of a group cuts the agent
   * short (the caller answers the menu); the group (digit-collector.ts) becomes a caller turn
   * `[keys pressed: …]` that the LLM or the scripted dialogue answers.
   */
  onDtmf(key: string): void {
    if (this.state.is("stopped", "on-hold", "ending")) return;
    this.d.log.info({ callId: this.d.record.id, pii: { key } }, "dtmf key");
    this.timers.callerSpoke();
    if (!this.digits.pending && this.reply && !this.reply.interrupted) this.cut(this.reply, "next-turn");
    this.digits.press(key);
  }

  private onDigits(keys: string): void {
    if (this.state.is("ending", "stopped", "on-hold")) return;
    const text = dtmfTurnText(keys);
    this.log.callerTurn(text);
    this.d.log.info({ callId: this.d.record.id, pii: { keys } }, "caller keys");
    this.resumable = null;
    this.startReply(text, null);
  }

  /** The send_dtmf tool: validates and hands the keys to the RTP side. */
  private onTool(name: string, args: Record<string, unknown>): boolean {
    if (name === "transfer_call" && this.d.transfer) {
      const parsed = transferCall(this.d.transfer.targets).parseArgs(args);
      if (parsed.ok) this.transferTo = parsed.args.target;
      else this.d.log.warn({ callId: this.d.record.id, error: parsed.error }, "transfer_call ignored");
      return true;
    }
    if (name !== "send_dtmf" || !this.d.sendDtmf) return false;
    const parsed = sendDtmf.parseArgs(args);
    if (!parsed.ok) {
      this.d.log.warn({ callId: this.d.record.id, error: parsed.error }, "send_dtmf ignored");
      return true;
    }
    const sent = this.d.sendDtmf(parsed.args.digits);
    this.d.log.info({ callId: this.d.record.id, sent, pii: { keys: parsed.args.digits } }, "send_dtmf");
    return true;
  }

  private onTurnEnd(turn: TurnEnd): void {
    if (this.state.is("ending", "stopped", "on-hold")) return;
    const now = this.d.clock.now();
    this.log.callerTurn(turn.text);
    this.d.log.info({ callId: this.d.record.id, pii: { text: turn.text } }, "caller turn");
    const decision = onCallerTurn({
      text: turn.text,
      backchannel: this.settings.backchannel,
      resumable: !!this.resumable,
      reply: this.reply && this.reply.view(),
    });
    if (decision === "resume") return this.resumeReply("backchannel");
    if (decision === "ignore_backchannel") {
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
    this.transferTo = null; // asked for by an earlier reply that did not finish
    if (this.reply && !this.reply.interrupted) {
      // A new turn while the previous reply still plays (barge-in off): cut the old one short.
      this.cut(this.reply, "next-turn");
    }
    // The greeting (also restarted on a fallback provider) keeps the greeting state; all else is a reply.
    this.state.to(userText === null && fixedText === undefined && !this.replied && this.state.is("greeting") ? "greeting" : "replying");
    if (userText !== null) this.log.userAsked(userText);
    const handle = new SpeechHandle(userText, () => this.d.clock.now(), timing?.speechEndAt ?? this.d.clock.now(), timing?.finalTranscriptMs);
    this.reply = handle;
    this.runReply(handle, fixedText).catch((err) => this.unhandled(err));
  }

  private noteServing(stage: "stt" | "llm" | "tts", name: string): void {
    this.log.serving(stage, `${name} (fallback)`, { stt: this.d.stt.name, llm: this.d.llm.name, tts: this.d.tts.name });
    this.d.onRecordChanged?.();
  }

  /** Continues an interrupted reply with its unheard rest. */
  private resumeReply(why: string): void {
    const r = this.resumable;
    this.resumable = null;
    this.timers.clearNoWords();
    if (!r || this.state.is("ending", "stopped")) return;
    if ("regenerate" in r) {
      this.d.log.info({ callId: this.d.record.id, why }, "regenerating the reply cut before it was heard");
      return this.startReply(null, null);
    }
    this.d.log.info({ callId: this.d.record.id, why, pii: { text: r.text } }, "resuming interrupted reply");
    this.startReply(null, null, r.text);
    if (r.endCall && this.reply) this.reply.endCall = true;
  }

  private async runReply(reply: SpeechHandle, fixedText?: string): Promise<void> {
    const llm = this.providers.llm;
    const { llmFirstTokenMs: firstTokenMs, llmTotalMs: totalMs } = this.settings;
    const generate = (s: AbortSignal) => llm.generate({ system: this.d.system, history: [...this.log.history], tools: this.d.tools, signal: s });
    const { error } = await reply.run({
      source: (signal) =>
        fixedText !== undefined
          ? fixedSource(fixedText)
          : withLlmDeadlines(generate, { clock: this.d.clock, provider: llm.name, firstTokenMs, totalMs, signal }),
      tts: this.providers.tts,
      output: this.d.output,
      callId: this.d.record.id,
      callSignal: this.callCtl.signal,
      onTool: (name, args) => this.onTool(name, args),
      onUnknownTool: (tool) => this.d.log.warn({ callId: this.d.record.id, tool }, "unknown tool call ignored"),
      onToolCall: (name, args) => this.d.onToolCall?.(name, args),
      onSaying: (text) => this.d.onSaying?.(text),
    });
    // Learn this voice's rate from a whole reply (at least a sentence's worth of text).
    const chars = collapse(reply.spokenText).length;
    if (reply.audioComplete && chars >= 20) this.samplesPerChar = reply.queuedSamples / chars;
    if (this.state.is("stopped") || reply.interrupted) return; // cut/abandon recorded it
    if (error) return this.replyFailed(reply, error);
    if (reply.endCall) this.state.to("ending");
    // The turn is recorded once it has been heard: a barge-in before then records the heard part instead.
    await this.d.output.waitForPlayout();
    if (this.state.is("stopped") || reply.interrupted) return;
    this.log.agentTurn(reply.generated.trim(), { latency: reply.latency, usage: reply.usage });
    this.replied = true;
    if (this.reply === reply) this.reply = null;
    if (reply.endCall) return this.hangupAfterPlayout("end_call");
    const transferTo = this.transferTo;
    this.transferTo = null;
    if (transferTo && this.d.transfer) return this.transfer(transferTo);
    if (this.state.is("greeting", "replying")) this.state.to("listening");
    if (!this.state.is("on-hold")) this.timers.armIdle();
  }

  /** Hands the caller to `target` (its line has played); on failure says so and listens again. */
  private async transfer(target: string): Promise<void> {
    this.d.log.info({ callId: this.d.record.id, target }, "transfer started");
    const done = await this.d.transfer!.run(target);
    if (this.state.is("stopped")) return;
    if (done) {
      this.state.tryTo("ending");
      this.d.hangup("transferred");
      return;
    }
    this.say(this.settings.transferFailedText, false);
  }

  private async replyFailed(reply: SpeechHandle, error: unknown): Promise<void> {
    this.d.onProviderError?.(error);
    logProviderError(this.d.log, this.d.record.id, error, "reply failed");
    if (this.reply === reply) this.reply = null;
    const stage = (error as { kind?: "stt" | "llm" | "tts" }).kind;
    if (replyRecovery(error, { replied: this.replied }) === "fallback" && stage && this.providers.useFallback(stage)) {
      // Call start: the provider is unreachable, so the offline one serves this call from now on.
      this.d.output.clearBuffer();
      this.log.unask(reply.userText);
      this.startReply(reply.userText, null);
      return;
    }
    this.log.agentTurn(reply.generated, { latency: reply.latency, usage: reply.usage, error: describeError(error) });
    await this.speakApology();
  }

  /**
   * Stops a reply in progress, keeping what the caller heard: a barge-in (counted), the next turn or a
   * prompt cutting it (barge-in off), or hold. The output is cleared first: its finished event (sent
   * synchronously) gives exactly what went out.
   */
  private cut(reply: SpeechHandle, why: "barge-in" | "next-turn" | "hold"): void {
    this.d.output.clearBuffer();
    reply.interrupt();
    const heard = reply.heardText(this.samplesPerChar);
    this.d.log.info(
      { callId: this.d.record.id, playedMs: Math.round(reply.heardMs()), pii: { heard } },
      why === "barge-in" ? "barge-in" : why === "hold" ? "reply cut by hold" : "reply cut by next turn",
    );
    if (why === "barge-in") {
      this.d.record.bargeIns++;
      this.d.onBargeIn?.();
    }
    // The stages the cut reply reached are kept (the call page's latency bar, metrics).
    this.log.agentTurn(heard, { interrupted: true, generated: collapse(reply.generated), latency: reply.latency, usage: reply.usage });
    if (this.reply === reply) this.reply = null;
    const rest = reply.unheardRest(heard);
    if (why !== "next-turn" && rest) this.resumable = { text: rest, endCall: reply.endCall };
    else if (why === "hold" && !heard && !reply.generationDone && (reply.userText !== null || !this.replied)) this.resumable = { regenerate: true };
    else this.resumable = null;
    if (this.state.is("greeting", "replying")) this.state.to("listening");
  }

  /** The caller continued before any reply audio played: forget the reply, merge the turns. */
  private abandonReply(reply: SpeechHandle): void {
    this.d.log.info({ callId: this.d.record.id }, "reply abandoned: the caller went on");
    reply.interrupt();
    this.d.output.clearBuffer();
    if (reply.userText !== null) {
      this.log.mergeTurn(reply.userText);
      this.detector.restore(reply.userText);
    }
    if (this.reply === reply) this.reply = null;
    if (this.state.is("greeting", "replying")) this.state.to("listening");
  }

  private async speakApology(): Promise<void> {
    if (this.state.is("ending", "stopped", "on-hold")) return;
    this.state.to("replying");
    await this.fixed.apology(this.settings.apologyText);
    await this.listenAfterPlayout();
  }

  /** Speaks fixed text (prompts, goodbyes) outside the LLM; optionally hangs up after it played. */
  private say(text: string, thenHangup: boolean): void {
    if (this.state.is("ending", "stopped")) return;
    if (this.reply && !this.reply.interrupted) this.cut(this.reply, "next-turn");
    this.state.to(thenHangup ? "ending" : "replying");
    const prepared = this.preparedIdle;
    this.preparedIdle = null;
    void this.fixed
      .say(text, prepared)
      .then(() => (thenHangup ? this.hangupAfterPlayout("agent_goodbye") : this.listenAfterPlayout()))
      .catch((err) => this.unhandled(err));
  }

  /**
   * The idle time counts from the end of what the agent said, not from when it was queued: measured
   * (tests/e2e/turn-scenarios.test.ts, IDLE_PROMPT_S=3) the second prompt came 1.85 s after the end of
   * the first, i.e. 3 s minus the prompt's own 1.15 s.
   */
  private async listenAfterPlayout(): Promise<void> {
    await this.d.output.waitForPlayout();
    if (!this.state.is("replying") || this.reply) return; // stopped, ending, on hold, or a reply took over
    this.state.to("listening");
    this.timers.armIdle();
  }

  private async hangupAfterPlayout(reason: string): Promise<void> {
    this.state.tryTo("ending");
    await this.d.output.waitForPlayout();
    if (!this.state.is("stopped")) this.d.hangup(reason);
  }

  private onIdle(prompt: number): void {
    if (!this.state.is("listening")) return; // replying, on hold, ending: a later playout re-arms it
    if (this.detector.callerSpeaking || this.reply || this.detector.pendingText) return this.timers.rearmIdle();
    const goodbye = prompt > this.settings.idlePromptsBeforeHangup;
    this.say(goodbye ? this.settings.idleGoodbyeText : this.settings.idlePromptText, goodbye);
  }

  /**
   * Shortly before the idle prompt `prompt` is due: render it now (FixedSpeech.prepare), so it starts
   * when the idle time is over, not one synthesis later. A rendering of the same text is kept.
   */
  private prepareIdle(prompt: number): void {
    if (!this.state.is("listening") || this.reply) return;
    const text = prompt > this.settings.idlePromptsBeforeHangup ? this.settings.idleGoodbyeText : this.settings.idlePromptText;
    if (this.preparedIdle?.text === text) return;
    this.dropPreparedIdle();
    this.preparedIdle = this.fixed.prepare(text);
  }

  private dropPreparedIdle(): void {
    this.preparedIdle?.cancel();
    this.preparedIdle = null;
  }

  private onMaxDuration(): void {
    // On hold the caller cannot hear a goodbye: hang up at once.
    if (this.state.is("on-hold")) {
      this.state.to("ending");
      this.d.hangup("max_duration");
      return;
    }
    this.say(this.settings.maxDurationText, true);
  }
}
