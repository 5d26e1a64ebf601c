/**
 * The agent's side of one call's conversation (agent-call.ts drives it from the caller's side): a reply
 * (LLM → sentences → TTS → the call's audio output, one SpeechHandle each), cutting it (barge-in, the
 * next turn, hold) while keeping what the caller heard, resuming its unheard rest, fixed speech
 * (prompts, apology, goodbyes), the LLM's tool calls (send_dtmf, transfer_call) and the hang-up or
 * transfer once the last packet has played.
 */
import type { PrerenderedTts } from "./prerendered-tts";
import type { StateMachine } from "../util/state-machine";
import type { ChatMessage, LlmProvider, TurnExpectation } from "../providers/types";
import { sendDtmf } from "../providers/tools/send-dtmf";
import { transferCall } from "../providers/tools/transfer-call";
import type { CallTimers } from "./call-timers";
import type { ConversationLog } from "./conversation-log";
import type { ConversationState } from "./conversation-state";
import type { AgentCallDeps, ConversationSettings } from "./conversation-settings";
import type { TurnDetector } from "./endpointing";
import type { FixedSpeech, PreparedSpeech } from "./fixed-speech";
import { collapse, NOMINAL_SAMPLES_PER_CHAR, wholeSentences } from "./heard-text";
import { withLlmDeadlines } from "./llm-deadline";
import { describeError, logProviderError, replyRecovery } from "./provider-failures";
import { fixedSource, SpeechHandle } from "./speech-handle";
import type { StageProviders } from "./stage-providers";

/** What the agent side needs from its call (all owned by AgentCall). */
export interface AgentSpeechParts {
  d: AgentCallDeps;
  settings: ConversationSettings;
  state: StateMachine<ConversationState>;
  log: ConversationLog;
  providers: StageProviders;
  fixed: FixedSpeech;
  timers: CallTimers;
  /** Takes back the text of a reply abandoned because the caller went on. */
  detector: TurnDetector;
  /** Aborted when the call ends. */
  callSignal: AbortSignal;
  /** A failure that escaped the conversation's own handling. */
  unhandled: (err: unknown) => void;
  /** What the caller's answer to the reply being generated is expected to be (LlmProvider.expectation). */
  expect?: (e: TurnExpectation | undefined) => void;
}

/** Timing of the caller turn a reply answers (ms on the call's clock). */
export interface TurnTiming {
  speechEndAt: number;
  finalTranscriptMs: number;
  now: number;
}

export class AgentSpeech {
  private readonly d: AgentCallDeps;
  private readonly settings: ConversationSettings;
  private readonly state: StateMachine<ConversationState>;
  private readonly log: ConversationLog;
  private readonly providers: StageProviders;
  private readonly fixed: FixedSpeech;
  private readonly timers: CallTimers;
  private readonly detector: TurnDetector;
  private readonly callSignal: AbortSignal;
  private readonly unhandled: (err: unknown) => void;
  private readonly expect: ((e: TurnExpectation | undefined) => void) | undefined;
  /** The reply (or resumed rest) in progress. */
  reply: SpeechHandle | null = null;
  /**
   * What a cut reply may resume with: its unheard rest (barge-in, hold), or — a reply cut by hold before
   * anything of it was heard or its generation ended — a new generation from the same history.
   */
  resumable: { text: string; endCall: boolean } | { regenerate: true } | null = null;
  /** Audio samples per character of text for this call's voice (measured on completed replies). */
  private samplesPerChar = NOMINAL_SAMPLES_PER_CHAR;
  /** A reply has completed: from now on failures get the apology, not a provider switch. */
  private replied = false;
  /** The transfer_call target asked for by the reply in progress (done once its line has played). */
  private transferTo: string | null = null;
  /** Fixed text (the idle prompt or goodbye) being rendered ahead of its time, for `say`. */
  private prepared: PreparedSpeech | null = null;

  constructor(p: AgentSpeechParts) {
    this.d = p.d;
    this.settings = p.settings;
    this.state = p.state;
    this.log = p.log;
    this.providers = p.providers;
    this.fixed = p.fixed;
    this.timers = p.timers;
    this.detector = p.detector;
    this.callSignal = p.callSignal;
    this.unhandled = p.unhandled;
    this.expect = p.expect;
  }

  /** A new reply: to a caller turn (`userText`), the greeting (null), or fixed text (a resumed rest). */
  startReply(userText: string | null, timing: TurnTiming | null, fixedText?: string): void {
    this.transferTo = null; // asked for by an earlier reply that did not finish
    if (this.reply && !this.reply.interrupted) {
      // A new turn while the previous reply still plays (barge-in off): cut the old one short.
      this.cut(this.reply, "next-turn");
    }
    // The greeting (also restarted on a fallback provider) keeps the greeting state; all else is a reply.
    this.state.to(userText === null && fixedText === undefined && !this.replied && this.state.is("greeting") ? "greeting" : "replying");
    if (userText !== null) this.log.userAsked(userText);
    const handle = new SpeechHandle(userText, () => this.d.clock.now(), timing?.speechEndAt ?? this.d.clock.now(), timing?.finalTranscriptMs, () =>
      this.log.flush(),
    );
    this.reply = handle;
    this.runReply(handle, fixedText).catch((err) => this.unhandled(err));
  }

  /** Continues an interrupted reply with its unheard rest. */
  resumeReply(why: string): void {
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

  /** The call ends: a reply cut by it is recorded with what the caller heard of it, then aborted. */
  endOfCall(): void {
    this.log.flush();
    const r = this.reply;
    if (r && !r.interrupted && r.spokenText) {
      this.d.output.clearBuffer(); // the finished event fixes exactly what went out
      r.interrupt();
      this.log.agentTurn(r.heardText(this.samplesPerChar), { interrupted: true, generated: collapse(r.generated), latency: r.finish(), usage: r.usage });
    }
  }

  /** The outbound opening rendered ahead (prerendered-tts.ts): the TTS of the first reply, when still the serving one. */
  openingTts: PrerenderedTts | null = null;

  private takeOpeningTts(reply: SpeechHandle): PrerenderedTts | null {
    const o = this.openingTts;
    this.openingTts = null;
    if (o && reply.userText === null && o.inner === this.providers.tts) {
      this.d.log.info({ callId: this.d.record.id, renderedMs: Math.round(o.renderedSamples / 8) }, "outbound opening rendered ahead");
      return o;
    }
    o?.discard();
    return null;
  }

  /**
   * The history this request carries: bounded (history-bound.ts, `llmHistoryMaxChars`) unless the LLM is
   * scripted (its state is a replay of every caller turn); logged once per call when first cut.
   */
  private requestHistory(llm: LlmProvider): ChatMessage[] {
    if (llm.scripted) return [...this.log.history];
    const maxChars = this.settings.llmHistoryMaxChars;
    const b = this.log.forRequest(maxChars);
    if (b.firstCut) {
      const sent = b.history.reduce((n, m) => n + m.text.length, 0);
      this.d.log.info({ callId: this.d.record.id, maxChars, droppedMessages: b.dropped, sentMessages: b.history.length, sentChars: sent, newestCut: b.cutNewest }, "LLM history bounded: oldest turns left out of the request");
    }
    return b.history;
  }

  private async runReply(reply: SpeechHandle, fixedText?: string): Promise<void> {
    const llm = this.providers.llm;
    const openingTts = this.takeOpeningTts(reply);
    const { llmFirstTokenMs: firstTokenMs, llmTotalMs: totalMs } = this.settings;
    const history = this.requestHistory(llm);
    const generate = (s: AbortSignal) => llm.generate({ system: this.d.system, history: [...history], tools: this.d.tools, signal: s });
    // A scripted step knows what it asks for: tell the recogniser and the key grouping before the caller answers.
    if (fixedText === undefined && llm.expectation) this.expect?.(llm.expectation([...this.log.history]));
    const { error } = await reply.run({
      source: (signal) =>
        fixedText !== undefined
          ? fixedSource(fixedText)
          : withLlmDeadlines(generate, { clock: this.d.clock, provider: llm.name, firstTokenMs, totalMs, signal }),
      fixedText: fixedText !== undefined,
      tts: openingTts ?? this.providers.tts,
      output: this.d.output,
      callId: this.d.record.id,
      callSignal: this.callSignal,
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
    this.log.agentTurn(reply.generated.trim(), { latency: reply.finish(), usage: reply.usage });
    this.replied = true;
    if (this.reply === reply) this.reply = null;
    if (reply.endCall) return this.hangupAfterPlayout("end_call");
    const transferTo = this.transferTo;
    this.transferTo = null;
    if (transferTo && this.d.transfer) return this.transfer(transferTo);
    if (this.state.is("greeting", "replying")) this.state.to("listening");
    if (!this.state.is("on-hold")) this.timers.armIdle();
  }

  /** The LLM's tools: send_dtmf hands the keys to the RTP side; transfer_call notes the target. */
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

  /** Hands the caller to `target` (its line has played); on failure says so and listens again. */
  private async transfer(target: string): Promise<void> {
    this.d.log.info({ callId: this.d.record.id, target }, "transfer started");
    // The line before the target's phone rings; the state stays "replying" (no idle prompt during the ring).
    const bridging = () => void this.fixed.say(this.settings.transferBridgingText).catch((err) => this.unhandled(err));
    const done = await this.d.transfer!.run(target, { bridging });
    if (this.state.is("stopped") || done === "bridged") return; // bridged: the owner stopped the conversation
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
    this.log.agentTurn(reply.generated, { latency: reply.finish(), usage: reply.usage, error: describeError(error) });
    await this.speakApology();
  }

  /**
   * Stops a reply in progress, keeping what the caller heard: a barge-in (counted), the next turn or a
   * prompt cutting it (barge-in off), or hold. The output is cleared first: its finished event (sent
   * synchronously) gives exactly what went out.
   */
  cut(reply: SpeechHandle, why: "barge-in" | "next-turn" | "hold"): void {
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
    this.log.agentTurn(heard, { interrupted: true, generated: collapse(reply.generated), latency: reply.finish(), usage: reply.usage });
    if (this.reply === reply) this.reply = null;
    // A reply held resumes at the start of the sentence the hold cut (heard-text.ts wholeSentences).
    const from = why === "hold" ? wholeSentences(heard) : heard;
    const rest = reply.unheardRest(from);
    if (why !== "next-turn" && rest) this.resumable = { text: rest, endCall: reply.endCall };
    else if (why === "hold" && !heard && !reply.generationDone && (reply.userText !== null || !this.replied)) this.resumable = { regenerate: true };
    else this.resumable = null;
    if (this.state.is("greeting", "replying")) this.state.to("listening");
  }

  /**
   * A barge-in not yet known to be one (barge-in-pause.ts): the reply's audio stops at the next frame
   * but nothing is dropped; generation and synthesis go on under the output's back-pressure.
   */
  pause(reply: SpeechHandle): void {
    this.d.output.pause();
    this.d.log.info({ callId: this.d.record.id, playedMs: Math.round(reply.heardMs()) }, "barge-in: reply paused");
  }

  /** The paused reply goes on from the same sample (it was a backchannel, a cough, a noise). */
  unpause(why: string, pausedMs: number): void {
    this.d.output.resume();
    this.d.log.info({ callId: this.d.record.id, why, pausedMs: Math.round(pausedMs) }, "barge-in: reply goes on");
  }

  /** The caller continued before any reply audio played: forget the reply, merge the turns. */
  abandonReply(reply: SpeechHandle): void {
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

  /**
   * Speaks fixed text (prompts, goodbyes, a message left on a machine) outside the LLM; optionally hangs
   * up after it played, with `hangupReason`.
   */
  say(text: string, thenHangup: boolean, hangupReason = "agent_goodbye"): void {
    if (this.state.is("ending", "stopped")) return;
    if (this.reply && !this.reply.interrupted) this.cut(this.reply, "next-turn");
    this.state.to(thenHangup ? "ending" : "replying");
    const prepared = this.prepared;
    this.prepared = null;
    void this.fixed
      .say(text, prepared)
      .then(() => (thenHangup ? this.hangupAfterPlayout(hangupReason) : this.listenAfterPlayout()))
      .catch((err) => this.unhandled(err));
  }

  /**
   * Renders `text` now (FixedSpeech.prepare) so that a later `say(text)` starts when it is due, not one
   * synthesis later. A rendering of the same text is kept.
   */
  prepare(text: string): void {
    if (this.prepared?.text === text) return;
    this.dropPrepared();
    this.prepared = this.fixed.prepare(text);
  }

  /** Forgets a rendering made ahead (the caller spoke, hold). */
  dropPrepared(): void {
    this.prepared?.cancel();
    this.prepared = null;
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
}
