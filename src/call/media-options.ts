/** What a call's media (media.ts) is built from: the RTP lease and negotiated stream, providers, hooks. */
import type { AgentCallDeps, ConversationSettings } from "../pipeline/agent-call";
import type { CallRecord, TurnRecord } from "../pipeline/call-record";
import type { DetectorOptions } from "../pipeline/speech-detector";
import type { SileroVad } from "../media/vad/silero";
import type { LatchMode, Pacer, RtpPortLease } from "../rtp";
import type { RtcpPeerReport } from "../rtp/rtcp-session";
import type { NegotiatedMedia } from "../sdp";
import type { Clock } from "../util/clock";
import type { Logger } from "../util/log";
import type { LlmProvider, SttProvider, TtsProvider } from "../providers/types";

/** The providers one call converses with: the chosen one per stage and the offline fallbacks. */
export interface CallProviders {
  stt: SttProvider;
  llm: LlmProvider;
  tts: TtsProvider;
  /** Offline providers used when a cloud one fails (apology, call-start fallback). */
  fallback: { stt: SttProvider; llm: LlmProvider; tts: TtsProvider };
}

export interface CallMediaOptions extends Pick<AgentCallDeps, "onBargeIn" | "onBargeInPause"> {
  record: CallRecord;
  lease: RtpPortLease;
  media: Pick<NegotiatedMedia, "codec" | "payloadType" | "telephoneEventPt" | "remote" | "direction" | "rtcpMux" | "sendPtime" | "comfortNoise">;
  /** Where the signalling came from (INVITE source / trunk): media from it may be latched (RFC 4961). */
  signallingAddress?: string;
  /** The address our SDP advertised: a loopback caller's RTP comes from it (rtp/symmetric-latch.ts allowedSources). */
  advertisedAddress?: string;
  /** Which sources may latch (RTP_LATCH, src/rtp/symmetric-latch.ts); default `signalled`. */
  latchMode?: LatchMode;
  /**
   * RTP_SILENCE_SUPPRESSION=on: the playout's idle ticks send no RTP but a keep-alive (src/rtp/silence-suppression.ts;
   * not under MEDIA_WORKER=on, whose stream sends continuous media). Default off.
   */
  silenceSuppression?: boolean;
  pacer: Pacer;
  clock: Clock;
  log: Logger;
  providers: CallProviders;
  vad: SileroVad | null;
  system: string;
  /** Turn-taking settings (from the configuration, src/cli/config.ts); defaults when absent. */
  settings?: Partial<ConversationSettings>;
  /**
   * The caller-speech detector's configured options (src/cli/config-turns.ts detectorOptions: BARGE_IN_MIN_SPEECH_MS,
   * END_OF_TURN_PAUSE_MS, BARGE_IN_CALLER_MARGIN_DB, BARGE_IN_FIRST_TURN_FLOOR_DBFS); the detector's defaults where absent.
   */
  detector?: Pick<DetectorOptions, "bargeInMinSpeechMs" | "pauseMs" | "callerLevel" | "firstTurnFloorDbfs">;
  /** Ends the call at the SIP level; called after the last packet of the goodbye. */
  hangup: (reason: string) => void;
  onTurn?: (turn: TurnRecord) => void;
  /** The caller's words so far (STT interim results), for live watchers. */
  onInterim?: (text: string) => void;
  /** A DTMF key from the far end, for live watchers. */
  onDtmfKey?: (key: string) => void;
  /** The LLM called a tool, for live watchers. */
  onToolCall?: (name: string, args: Record<string, unknown>) => void;
  /** The reply in progress, as handed to TTS so far, for live watchers. */
  onSaying?: (text: string) => void;
  onProviderError?: (err: unknown) => void;
  /**
   * No RTP from the far end for this long (ms) ends the call with "rtp_timeout" (RTP_TIMEOUT_S);
   * `holdMs` applies while the peer holds the call (RTP_HOLD_TIMEOUT_S); `startMs` before the first
   * packet when the SDP's address is not the signalling address (RTP_START_TIMEOUT_S,
   * src/rtp/media-consent.ts). 0 or absent: never.
   */
  rtpTimeout?: { ms: number; holdMs: number; startMs?: number };
  /** Each RTCP report the far end sends about our stream (metrics). */
  onRtcpReport?: (r: RtcpPeerReport) => void;
  /**
   * A throw or rejection from the conversation or the media path that nothing else handled (the call
   * boundary: src/call/session.ts ends the call with "error"). Default: rethrown.
   */
  onError?: (err: unknown) => void;
  /** Record fields changed outside a turn (the serving providers after a fallback, hold, a transfer). */
  onRecordChanged?: () => void;
  /** RECORDING=on: the folder of the call recordings (src/call/recording.ts); absent = not recorded. */
  recordingsDir?: string;
  /** Transfer to a person (transfer_call tool, src/call/transfer.ts); absent: no targets configured. */
  transfer?: AgentCallDeps["transfer"];
  /** Outbound calls: the opening waits for the callee; answering-machine detection (outbound-answer.ts). */
  answer?: AgentCallDeps["answer"];
}
