/**
 * A Playout's segments (playout.ts: one reply or prompt each, the samples captured between one `flush()`
 * and the next) and the playback events they give its listeners (src/media/audio-output.ts):
 * `playbackStarted` once per segment, after its first frame was sent, and `playbackFinished` exactly
 * once, with what was played of it, ms, and whether it was cut (`interrupted`).
 */
import type { PlaybackFinishedEvent, PlaybackListener } from "./audio-output.ts";
import { SAMPLES_PER_MS } from "./constants.ts";

export interface Segment {
  id: number;
  started: boolean;
  finished: boolean;
  /** Real audio samples of it sent (padding excluded). */
  playedSamples: number;
}

export class PlaybackSegments {
  private readonly listeners = new Set<PlaybackListener>();
  /** Segments opened and not yet finished, oldest first. */
  private live: Segment[] = [];
  private nextId = 1;

  listen(listener: PlaybackListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A new segment (ids 1, 2, …), live until `finish`. */
  open(): Segment {
    const seg: Segment = { id: this.nextId++, started: false, finished: false, playedSamples: 0 };
    this.live.push(seg);
    return seg;
  }

  /** `samples` of `seg` were sent: its first frame reports `playbackStarted`. */
  played(seg: Segment, samples: number): void {
    seg.playedSamples += samples;
    if (seg.started) return;
    seg.started = true;
    const e = { segmentId: seg.id };
    for (const l of [...this.listeners]) l.onPlaybackStarted?.(e);
  }

  /** Reports `playbackFinished` for `seg` unless it already was. */
  finish(seg: Segment, interrupted: boolean): void {
    if (seg.finished) return;
    seg.finished = true;
    const i = this.live.indexOf(seg);
    if (i >= 0) this.live.splice(i, 1);
    const e: PlaybackFinishedEvent = { segmentId: seg.id, playedMs: seg.playedSamples / SAMPLES_PER_MS, interrupted };
    for (const l of [...this.listeners]) l.onPlaybackFinished?.(e);
  }

  /** Every live segment is cut (`clearBuffer`, `close`): each reports finished with `interrupted: true`, oldest first. */
  interruptAll(): void {
    const live = this.live;
    this.live = [];
    for (const seg of live) this.finish(seg, true);
  }
}
