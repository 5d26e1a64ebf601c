/**
 * A call's media and conversation once SDP is negotiated, the same for inbound and outbound calls:
 * RTP session on a leased port → playout on the shared pacer → AgentCall (VAD, STT, LLM, TTS).
 * `close()` releases everything (pacer slot, playout, socket and port); it is idempotent.
 */
import { AgentCall, type ConversationSettings } from "../pipeline/agent-call";
import type { CallRecord, TurnRecord } from "../pipeline/call-record";
import { SileroSpeechDetector } from "../pipeline/speech-detector";
import { CorrelationEcho } from "../pipeline/echo-correlation";
import { defaultTools } from "../providers/cloud";
import { Playout } from "../media/playout";
import type { SileroVad } from "../media/vad/silero";
import { RtpSession, type Pacer, type PacerSource, type RtpPortLease } from "../rtp";
import { silenceFrame } from "../media/g711";
import type { AudioFrame } from "../media/constants";

/** No caller RTP for this long (ms) and the conversation gets silence frames in its place. */
const MISSING_MEDIA_MS = 60;
const FRAME_MS = 20;
import type { NegotiatedMedia } from "../sdp";
import type { Clock } from "../util/clock";
import type { Logger } from "../util/log";
import type { Providers } from "./providers";
import type { ConversationConfig } from "./config";

export interface CallMediaOptions {
  record: CallRecord;
  lease: RtpPortLease;
  media: Pick<NegotiatedMedia, "codec" | "payloadType" | "telephoneEventPt" | "remote" | "direction">;
  pacer: Pacer;
  clock: Clock;
  log: Logger;
  providers: Providers;
  vad: SileroVad | null;
  system: string;
  /** Turn-taking settings from the configuration; defaults when absent. */
  conversation?: ConversationConfig;
  /** Ends the call at the SIP level; called after the last packet of the goodbye. */
  hangup: (reason: string) => void;
  onTurn?: (turn: TurnRecord) => void;
  onBargeIn?: () => void;
  onProviderError?: (err: unknown) => void;
}

export class CallMedia {
  readonly session: RtpSession;
  readonly playout: Playout;
  readonly conversation: AgentCall;
  private started = false;
  private lastCallerFrameAt = 0;
  private readonly silence: AudioFrame;
  /**
   * What the pacer drives every 20 ms: our outgoing frame, and — when the caller sends no RTP (silence
   * suppression, VAD on the far end, a stalled stream) — a silence frame for the conversation, so the
   * VAD and endpointing still see time pass and the caller's turn can end.
   */
  private readonly ticker: PacerSource = {
    onTick: () => {
      this.playout.onTick();
      const now = this.o.clock.now();
      if (now - this.lastCallerFrameAt >= MISSING_MEDIA_MS) {
        this.lastCallerFrameAt = now - MISSING_MEDIA_MS + FRAME_MS;
        this.conversation.onAudioFrame(this.silence);
      }
    },
  };
  private closed = false;

  constructor(private readonly o: CallMediaOptions) {
    const { record, media, log } = o;
    record.codec = media.codec;
    this.session = new RtpSession({
      lease: o.lease,
      remote: media.remote,
      codec: media.codec,
      payloadType: media.payloadType,
      telephoneEventPt: media.telephoneEventPt,
      direction: media.direction,
      clock: o.clock,
      onAudio: (frame) => {
        this.lastCallerFrameAt = o.clock.now();
        this.conversation.onAudioFrame(frame);
      },
      onDtmf: (ev) => log.info({ callId: record.id, key: ev.key, durationMs: ev.durationMs }, "dtmf received"),
    });
    const session = this.session;
    this.silence = { pcm: new Int16Array(160), payload: silenceFrame(media.codec), codec: media.codec };
    const echo = new CorrelationEcho(media.codec);
    // Every frame that goes out is noted, so the detector can tell our own echo from the caller.
    this.playout = new Playout({
      sink: { sendFrame: (payload, marker) => (echo.noteSent(payload), session.sendFrame(payload, marker)) },
      codec: media.codec,
    });
    this.conversation = new AgentCall({
      record,
      clock: o.clock,
      log,
      stt: o.providers.stt,
      llm: o.providers.llm,
      tts: o.providers.tts,
      fallbackTts: o.providers.fallback.tts,
      fallbackStt: o.providers.fallback.stt,
      fallbackLlm: o.providers.fallback.llm,
      system: o.system,
      tools: defaultTools(),
      sink: this.playout,
      vad: o.vad
        ? new SileroSpeechDetector(o.vad.createStream(), {
            echo,
            bargeInMinSpeechMs: o.conversation?.bargeInMinSpeechMs,
            // A second stream that hears silence for echo frames confirms barge-ins (speech-detector.ts).
            confirm: o.vad.createStream(),
          })
        : undefined,
      codec: media.codec,
      settings: o.conversation && conversationSettings(o.conversation),
      hangup: o.hangup,
      onTurn: o.onTurn,
      onBargeIn: o.onBargeIn,
      onProviderError: o.onProviderError,
    });
  }

  /** Starts sending (silence, then the agent's first words) and listening. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.lastCallerFrameAt = this.o.clock.now();
    this.o.pacer.add(this.ticker);
    void this.conversation.start();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.conversation.stop();
    this.o.pacer.remove(this.ticker);
    this.playout.close();
    this.session.close();
  }
}

/** Maps the configuration's turn-taking variables onto the conversation's settings. */
export function conversationSettings(c: ConversationConfig): Partial<ConversationSettings> {
  return {
    bargeIn: c.bargeIn,
    backchannel: c.backchannel,
    endpointing: { minSilenceMs: c.endOfTurnSilenceMs, maxSilenceMs: c.endOfTurnMaxSilenceMs },
    idlePromptMs: c.idlePromptMs,
    idlePromptsBeforeHangup: c.idlePromptsBeforeHangup,
    maxCallMs: c.maxCallMs,
  };
}
