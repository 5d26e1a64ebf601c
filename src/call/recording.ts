/**
 * Call recordings (`RECORDING=on`): one stereo WAV per call in DATA_DIR/recordings/<callId>.wav, the
 * caller on the left channel, the agent on the right, 8000 Hz 16-bit linear PCM (RIFF/WAVE,
 * WAVE_FORMAT_PCM), aligned on the wall clock: a side that sends nothing (silence suppression, the
 * agent listening, a stalled stream) is written as silence for that time, so both channels keep the
 * call's timeline and the file lasts as long as the call's media.
 *
 * Off the media path: `caller()`/`agent()` only copy a 20 ms frame into memory (called from the RTP
 * receive and the pacer tick); a timer every `flushMs` interleaves what is due and appends it with an
 * asynchronous write, then rewrites the RIFF sizes, so the file on disk is a playable WAV while the call
 * goes on (and after a crash, up to the last flush). `close()` writes the rest and finishes the file.
 *
 *   const rec = CallRecorder.open({ dir, callId, clock, log });
 *   rec.caller(frame.pcm); rec.agent(decodeFrame(payload, codec));
 *   await rec.close();
 */
import { mkdirSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { SAMPLES_PER_MS, SAMPLE_RATE } from "../media/constants";
import type { Clock, TimerHandle } from "../util/clock";
import type { Logger } from "../util/log";

/** Default interval (ms) between writes of a recording. */
export const RECORDING_FLUSH_MS = 1000;
/** How far (ms) writes stay behind the wall clock, so frames arriving late still land in place. */
export const RECORDING_LAG_MS = 300;
/** A side's stream jumps ahead (a gap) only when it is this far (ms) behind the wall clock. */
export const RECORDING_GAP_MS = 60;
const HEADER_BYTES = 44;
const CHANNELS = 2;

/** The recordings folder inside DATA_DIR. */
export const RECORDINGS_DIR = "recordings";

/** The file name of a call's recording inside the recordings folder. */
export const recordingFile = (callId: string): string => `${callId}.wav`;

/** A RIFF/WAVE header for `frames` stereo 16-bit frames at 8000 Hz (WAVE_FORMAT_PCM, fmt chunk of 16 bytes). */
export function wavHeader(frames: number): Uint8Array {
  const dataBytes = frames * CHANNELS * 2;
  const b = new Uint8Array(HEADER_BYTES);
  const v = new DataView(b.buffer);
  const ascii = (o: number, s: string) => [...s].forEach((c, i) => (b[o + i] = c.charCodeAt(0)));
  ascii(0, "RIFF");
  v.setUint32(4, 36 + dataBytes, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // WAVE_FORMAT_PCM
  v.setUint16(22, CHANNELS, true);
  v.setUint32(24, SAMPLE_RATE, true);
  v.setUint32(28, SAMPLE_RATE * CHANNELS * 2, true);
  v.setUint16(32, CHANNELS * 2, true);
  v.setUint16(34, 16, true);
  ascii(36, "data");
  v.setUint32(40, dataBytes, true);
  return b;
}

/** One channel's samples not written yet, placed on the call's timeline (sample index from the start). */
class Track {
  private chunks: Array<{ pcm: Int16Array; start: number }> = [];
  /** Timeline index just after the last sample placed (never before what was written). */
  end = 0;

  /** Adds a frame that ended at timeline index `at` (now): a gap before it is left as silence. */
  push(pcm: Int16Array, at: number): void {
    const begin = at - pcm.length;
    if (begin - this.end > RECORDING_GAP_MS * SAMPLES_PER_MS) this.end = begin;
    this.chunks.push({ pcm: pcm.slice(), start: this.end });
    this.end += pcm.length;
  }

  /** Copies this track's samples in [from, to) into channel `ch` of interleaved stereo `out`; keeps the rest. */
  take(from: number, to: number, out: Int16Array, ch: number): void {
    const keep: Array<{ pcm: Int16Array; start: number }> = [];
    for (const c of this.chunks) {
      const { pcm, start } = c;
      for (let i = Math.max(0, from - start); i < pcm.length && start + i < to; i++) out[(start + i - from) * CHANNELS + ch] = pcm[i]!;
      if (start + pcm.length > to) keep.push(start >= to ? c : { pcm: pcm.subarray(to - start), start: to });
    }
    this.chunks = keep;
    if (this.end < to) this.end = to;
  }
}

export interface CallRecorderOptions {
  dir: string;
  callId: string;
  clock: Clock;
  log: Logger;
  flushMs?: number;
}

export class CallRecorder {
  private readonly left = new Track();
  private readonly right = new Track();
  private readonly startedAt: number;
  /** Timeline index up to which both channels are written. */
  private written = 0;
  private writes: Promise<unknown>;
  private file: Promise<FileHandle | null>;
  private timer: TimerHandle | undefined;
  private closed = false;
  /** Where the file is. */
  readonly path: string;

  private constructor(private readonly o: CallRecorderOptions) {
    this.startedAt = o.clock.now();
    const path = join(o.dir, recordingFile(o.callId));
    this.path = path;
    this.file = (async () => {
      try {
        mkdirSync(o.dir, { recursive: true });
        const fh = await open(path, "w");
        await fh.write(wavHeader(0), 0, HEADER_BYTES, 0);
        return fh;
      } catch (err) {
        o.log.error({ callId: o.callId, path, err: String(err) }, "recording unavailable for this call");
        return null;
      }
    })();
    this.writes = this.file;
    this.schedule();
  }

  /** Starts recording a call now (the file is created asynchronously; a failure is logged, the call goes on). */
  static open(o: CallRecorderOptions): CallRecorder {
    return new CallRecorder(o);
  }

  private now(): number {
    return Math.round((this.o.clock.now() - this.startedAt) * SAMPLES_PER_MS);
  }

  /** A frame the caller sent (linear PCM, 8000 Hz), as it arrives. */
  caller(pcm: Int16Array): void {
    if (!this.closed) this.left.push(pcm, this.now());
  }

  /** A frame the agent sent (linear PCM, 8000 Hz), as it goes out. */
  agent(pcm: Int16Array): void {
    if (!this.closed) this.right.push(pcm, this.now());
  }

  private schedule(): void {
    this.timer = this.o.clock.setTimer(this.o.flushMs ?? RECORDING_FLUSH_MS, () => {
      this.flush(this.now() - RECORDING_LAG_MS * SAMPLES_PER_MS);
      if (!this.closed) this.schedule();
    });
  }

  /** Interleaves the timeline up to `to` and queues its write (ordered after earlier writes). */
  private flush(to: number): void {
    if (to <= this.written) return;
    const from = this.written;
    const out = new Int16Array((to - from) * CHANNELS);
    this.left.take(from, to, out, 0);
    this.right.take(from, to, out, 1);
    this.written = to;
    const offset = HEADER_BYTES + from * CHANNELS * 2;
    this.writes = this.writes.then(async () => {
      const fh = await this.file;
      if (!fh) return;
      try {
        await fh.write(new Uint8Array(out.buffer), 0, out.byteLength, offset);
        await fh.write(wavHeader(to), 0, HEADER_BYTES, 0);
      } catch (err) {
        this.o.log.error({ callId: this.o.callId, err: String(err) }, "recording write failed");
      }
    });
  }

  /** Writes what is left (up to now, or the last frame of either side), finishes the file. Idempotent. */
  close(): Promise<void> {
    if (this.closed) return this.writes.then(() => {});
    this.closed = true;
    if (this.timer !== undefined) this.o.clock.clearTimer(this.timer);
    this.flush(Math.max(this.left.end, this.right.end, this.now()));
    this.writes = this.writes.then(async () => {
      const fh = await this.file;
      await fh?.close().catch(() => {});
    });
    return this.writes.then(() => {});
  }
}

/**
 * Deletes recordings older than `days` (by modification time: a recording is last written when its
 * call ends), the same retention as the call records (RECORD_RETENTION_DAYS). Returns how many.
 */
export function pruneRecordings(dir: string, days: number, now = Date.now()): number {
  let n = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!name.endsWith(".wav")) continue;
    const p = join(dir, name);
    try {
      if (now - statSync(p).mtimeMs > days * 86_400_000) (unlinkSync(p), n++);
    } catch {}
  }
  return n;
}

/**
 * Recordings follow the records' retention (RECORD_RETENTION_DAYS): pruned now, then hourly (an
 * unref'd timer). @returns a function that stops the hourly prune.
 */
export function scheduleRecordingRetention(dir: string, days: number, log: Logger): () => void {
  const prune = () => {
    const n = pruneRecordings(dir, days);
    if (n > 0) log.info({ deleted: n, retentionDays: days }, "old call recordings deleted");
  };
  prune();
  const timer = setInterval(prune, 3_600_000);
  timer.unref?.();
  return () => clearInterval(timer);
}
