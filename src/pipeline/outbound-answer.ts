/**
 * What happens between the callee's answer and the agent's first words on an outbound call:
 *  - the opening never starts while the callee is saying "Hello?": it waits for their first words to
 *    end (silenceAfterSpeechMs of silence) or, when they say nothing, for `noSpeechMs` of silence
 *    (OPENING_NO_SPEECH_MS; default 1000 ms with AMD off, 2000 ms with it on);
 *  - with answering-machine detection on (AMD=hangup|message), the call is classified human / machine /
 *    unknown (amd-classifier.ts, beep detector in src/media/beep-detector.ts) and on a machine the
 *    agent hangs up, or waits for the beep (at most `beepWaitMs`; no beep → after `messageSilenceMs` of
 *    silence) and leaves `message`, then hangs up.
 * The outcome goes on the call record (`amd`, see AmdRecord). Driven by the call's 20 ms frames (`frame`)
 * and the STT's words. Time is the audio's own: 20 ms per frame from the answer (the conversation gets a
 * frame every 20 ms, silence when RTP is missing), and speech is timed by frame energy
 * (src/media/energy-speech.ts), not by the Silero VAD, whose asynchronous inference reports late on a
 * starved machine — a late report would make "no speech yet" a wrong decision. Nothing is allocated per
 * frame.
 */
import { BeepDetector } from "../media/beep-detector";
import { EnergySpeech, SpeechEdge } from "../media/energy-speech";
import { FRAME_MS } from "../media/constants";
import type { Logger } from "../util/log";
import { AmdClassifier, DEFAULT_AMD_CLASSIFIER, type AmdClassifierSettings, type AmdDecision } from "./amd-classifier";
import type { AmdRecord, CallRecord } from "./call-record";

/** Answering-machine detection: off, or on with the action on a machine. */
export type AmdMode = "off" | "hangup" | "message";
export const AMD_MODES: readonly AmdMode[] = ["off", "hangup", "message"];

export interface OutboundAnswerSettings {
  amd: AmdMode;
  /** What is left on a machine (AMD=message); built from the call's opening_reason (src/outbound/opening.ts). */
  message?: string;
  /** The opening's text, rendered while the agent waits (prerendered-tts.ts); absent → synthesised when due. */
  opening?: string;
  /** Classifier timings (AMD_DECISION_MS, AMD_GREETING_MS, OPENING_NO_SPEECH_MS). */
  classifier?: Partial<AmdClassifierSettings>;
  /** AMD=message: after a machine was detected, wait at most this long for the beep, ms. Default 20 000. */
  beepWaitMs?: number;
  /** AMD=message: no beep, but this much silence after the greeting → leave the message now, ms. Default 2000. */
  messageSilenceMs?: number;
}

export const DEFAULT_BEEP_WAIT_MS = 20_000;
export const DEFAULT_MESSAGE_SILENCE_MS = 2000;
/**
 * The callee still talks when the classifier gave up (or a machine with AMD off): the opening starts at
 * the end of their speech, but no later than this after the answer, ms.
 */
export const OPENING_HARD_CAP_MS = 8000;

/** What the controller asks the conversation to do. */
export interface OutboundAnswerActions {
  /** Speak the opening now. */
  open(): void;
  /** A machine and AMD=hangup: hang up now (BYE). */
  hangup(): void;
  /** A machine and AMD=message: say `text`, then hang up. */
  leaveMessage(text: string): void;
  /** Record fields changed (persist them). */
  changed(): void;
}

type Phase = "classifying" | "waiting_to_open" | "awaiting_beep" | "done";

export class OutboundAnswer {
  private readonly classifier: AmdClassifier;
  private readonly beeps: BeepDetector | undefined;
  private phase: Phase = "classifying";
  private readonly speech = new EnergySpeech();
  /** Audio time: ms of callee audio since the answer (20 per frame). */
  private audioMs = 0;
  private lastSpeechEnd = 0;
  private decidedAt = 0;
  private readonly beepWaitMs: number;
  private readonly messageSilenceMs: number;

  constructor(
    private readonly s: OutboundAnswerSettings,
    private readonly o: { record: CallRecord; log: Logger; actions: OutboundAnswerActions },
  ) {
    // A person says something within about a second; a machine may take longer to start its greeting.
    const noSpeechMs = s.classifier?.noSpeechMs ?? (s.amd === "off" ? 1000 : DEFAULT_AMD_CLASSIFIER.noSpeechMs);
    this.classifier = new AmdClassifier(0, { ...s.classifier, noSpeechMs });
    this.beeps = s.amd === "off" ? undefined : new BeepDetector();
    this.beepWaitMs = s.beepWaitMs ?? DEFAULT_BEEP_WAIT_MS;
    this.messageSilenceMs = s.messageSilenceMs ?? DEFAULT_MESSAGE_SILENCE_MS;
  }

  /** The agent has not started its opening (nor ended the call) yet: caller turns get no reply. */
  get pending(): boolean {
    return this.phase !== "done";
  }

  /** The next 20 ms frame of callee audio (160 samples, 8 kHz). */
  frame(pcm: Int16Array): void {
    if (this.phase === "done") return;
    this.audioMs += FRAME_MS;
    const edge = this.speech.push(pcm);
    if (edge === SpeechEdge.Start) this.classifier.speechStarted(this.speech.startedAtMs);
    else if (edge === SpeechEdge.End) {
      this.classifier.speechEnded(this.speech.endedAtMs);
      this.lastSpeechEnd = this.speech.endedAtMs;
    }
    if (this.beeps && this.beeps.push(pcm) > 0) this.onBeep(this.audioMs);
    this.step(this.audioMs);
  }

  /** Recognised words (STT interim or final), counted towards "many_words". */
  heard(text: string, final: boolean): void {
    if (this.phase !== "classifying") return;
    this.classifier.heard(text, final, this.audioMs);
    this.step(this.audioMs);
  }

  /** The conversation said `text` to the end (a fixed-speech line): marks the message left. */
  said(text: string): void {
    const amd = this.o.record.amd;
    if (amd && amd.action === "message" && text === this.s.message && !amd.messageLeft) {
      amd.messageLeft = true;
      this.o.actions.changed();
    }
  }

  private step(nowMs: number): void {
    switch (this.phase) {
      case "classifying": {
        const d = this.classifier.tick(nowMs);
        if (d) this.decided(d, nowMs);
        return;
      }
      case "waiting_to_open":
        if (!this.classifier.calleeSpeaking || nowMs >= OPENING_HARD_CAP_MS) this.open(nowMs);
        return;
      case "awaiting_beep": {
        const silentMs = this.classifier.calleeSpeaking ? 0 : nowMs - this.lastSpeechEnd;
        if (silentMs >= this.messageSilenceMs) this.leaveMessage(nowMs, "silence");
        else if (nowMs - this.decidedAt >= this.beepWaitMs) this.leaveMessage(nowMs, "beep_wait_over");
        return;
      }
    }
  }

  private decided(d: AmdDecision, nowMs: number): void {
    const { record, log } = this.o;
    this.decidedAt = nowMs;
    const machine = d.result === "machine" && this.s.amd !== "off";
    if (this.s.amd !== "off") {
      record.amd = {
        result: d.result,
        reason: d.reason,
        decidedAt: new Date().toISOString(),
        afterMs: d.afterMs,
        action: machine ? this.s.amd : "none",
        messageLeft: false,
        ...(d.reason === "beep" ? this.beepFields() : {}),
      };
      log.info({ callId: record.id, result: d.result, reason: d.reason, afterMs: d.afterMs }, "answering machine detection");
      this.o.actions.changed();
    }
    if (!machine) {
      this.phase = "waiting_to_open";
      return this.step(nowMs);
    }
    if (this.s.amd === "hangup") {
      this.phase = "done";
      return this.o.actions.hangup();
    }
    if (d.reason === "beep") return this.leaveMessage(nowMs, "beep");
    this.phase = "awaiting_beep";
    this.step(nowMs);
  }

  private onBeep(nowMs: number): void {
    const b = this.beeps!;
    this.o.log.info({ callId: this.o.record.id, hz: b.lastBeepHz, ms: b.lastBeepMs, phase: this.phase }, "answering machine beep");
    if (this.phase === "classifying") {
      const d = this.classifier.beep(nowMs);
      return this.decided(d, nowMs);
    }
    if (this.phase === "awaiting_beep") {
      Object.assign(this.o.record.amd!, this.beepFields());
      this.leaveMessage(nowMs, "beep");
    }
  }

  private beepFields(): Pick<AmdRecord, "beepAt" | "beepHz" | "beepMs"> {
    const b = this.beeps!;
    return { beepAt: new Date(Date.now() - FRAME_MS).toISOString(), beepHz: b.lastBeepHz, beepMs: b.lastBeepMs };
  }

  private leaveMessage(nowMs: number, after: "beep" | "silence" | "beep_wait_over"): void {
    this.phase = "done";
    const amd = this.o.record.amd!;
    amd.messageAfter = after;
    this.o.log.info({ callId: this.o.record.id, after, waitedMs: Math.round(nowMs - this.decidedAt) }, "leaving a message on the answering machine");
    this.o.actions.changed();
    this.o.actions.leaveMessage(this.s.message ?? "");
  }

  private open(nowMs: number): void {
    this.phase = "done";
    this.o.log.info({ callId: this.o.record.id, afterAnswerMs: Math.round(nowMs) }, "outbound opening starts");
    this.o.actions.open();
  }
}
