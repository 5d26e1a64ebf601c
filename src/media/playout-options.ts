/**
 * What a Playout (playout.ts) is built with: where its frames go (`FrameSink`) and its options
 * (codec, playback listeners, queue bounds, the owner's hooks, the hold).
 */
import type { PlaybackFinishedEvent, PlaybackStartedEvent } from "./audio-output.ts";
import type { G711Codec } from "./g711.ts";
import type { AfterIoPoll } from "../util/after-io-poll.ts";

/** Where frames go; `RtpSession` implements it. `payload` is only valid during the call. */
export interface FrameSink {
  sendFrame(payload: Uint8Array, marker: boolean): boolean;
  /**
   * A silence tick with nothing to say (no reply in progress, no pause) under silence suppression:
   * `payload` is the silence frame the tick would have sent; the sink sends it, nothing or a keep-alive
   * (RtpSession.sendIdleFrame, src/rtp/silence-suppression.ts).
   */
  sendIdleFrame?(payload: Uint8Array): boolean;
}

export interface PlayoutOptions {
  sink: FrameSink;
  codec: G711Codec;
  /** A first listener (more through `listen`). */
  onPlaybackStarted?: (e: PlaybackStartedEvent) => void;
  onPlaybackFinished?: (e: PlaybackFinishedEvent) => void;
  /** Hard queue bound, ms (overflow rule drop-newest); default 300 000. */
  maxQueuedMs?: number;
  /** `captureFrame` resolves once less than this is queued, ms; default `AUDIO_OUTPUT_HIGH_WATER_MS` (2000). */
  highWaterMs?: number;
  /**
   * A whole audio frame is queued while the output is idle (nothing queued, the last frame sent was
   * silence): a talkspurt can start now. Called synchronously from `push`/`captureFrame`/`flush`.
   */
  onAudioQueued?: () => void;
  /** Any whole frame was queued (an output writing frames ahead hands it over at once). Called synchronously. */
  onFrameQueued?: () => void;
  /** `clearBuffer()` ran (barge-in, bridge, close): an owner holding frames handed ahead drops them. */
  onCleared?: () => void;
  /** `pause()` ran: an owner holding frames handed ahead takes back those not yet sent (the playout keeps them). */
  onPaused?: () => void;
  /** RTP_SILENCE_SUPPRESSION=on: idle silence ticks go to `sink.sendIdleFrame` (playout.ts class comment); default off. */
  silenceSuppression?: boolean;
  /** The hold (class comment), ticks; default 0 (none). Not under the media worker: its stream holds (worker-stream.ts). */
  holdFrames?: number;
  /** Past the hold's allowance, its end waits for this gate's next socket poll (playout-hold.ts); default the thread's. */
  holdGate?: AfterIoPoll;
}
