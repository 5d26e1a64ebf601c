/**
 * Caller speech detection for one call: Silero VAD probabilities (src/media/vad/silero.ts) through the
 * hysteresis segmenter (src/media/vad/segmenter.ts). Frames are processed strictly in arrival order;
 * inference is asynchronous, so events are delivered through callbacks.
 */
import { SpeechSegmenter, SEGMENTER_FRAME_MS, type SegmenterOptions } from "../media/vad/segmenter";
import type { VadStream } from "../media/vad/silero";
import type { SpeechDetector, SpeechEvents } from "./agent-call";

export class SileroSpeechDetector implements SpeechDetector {
  private readonly segmenter: SpeechSegmenter;
  private events: SpeechEvents | null = null;
  private closed = false;
  /** Probabilities seen (for diagnostics). */
  maxProbability = 0;

  constructor(
    private readonly vad: VadStream,
    options?: Partial<SegmenterOptions>,
  ) {
    this.segmenter = new SpeechSegmenter(options);
  }

  listen(events: SpeechEvents): void {
    this.events = events;
  }

  push(pcm: Int16Array): void {
    if (this.closed) return;
    void this.vad.process(pcm).then(
      (p) => {
        if (this.closed) return;
        if (p !== null && p > this.maxProbability) this.maxProbability = p;
        for (const ev of this.segmenter.push(pcm, p)) {
          if (ev.type === "speech_start") this.events?.onSpeechStart();
          else {
            const silenceMs = (this.segmenter.frameCount - ev.endFrame) * SEGMENTER_FRAME_MS;
            this.events?.onSpeechEnd(silenceMs);
          }
        }
      },
      () => {
        /* a failed inference is counted in the stream's stats; the call goes on without VAD for that frame */
      },
    );
  }

  close(): void {
    this.closed = true;
    this.events = null;
  }
}
