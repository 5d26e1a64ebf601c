/**
 * FakeStt: a scripted SttProvider for tests. Nothing is recognised; events come from a script keyed by
 * the number of frames pushed, from `flush()`, or from the test itself (`stream.emit`).
 *
 *     const stt = new FakeStt({ utterances: [{ afterFrames: 50, events: [{ type: "final", text: "hi", speechFinal: true }] }] });
 *     // … pipeline pushes 50 frames → the final is emitted; stt.streams[0].frames === 50
 */
import { AsyncQueue } from "../../util/async-queue.ts";
import type { AudioFrame, ProviderError, SttEvent, SttOpenOptions, SttProvider, SttStream, TurnExpectation } from "../types.ts";

export interface FakeUtterance {
  /** Emit `events` once this many frames (cumulative, per stream) have been pushed. */
  afterFrames: number;
  events: SttEvent[];
}

export interface FakeSttOptions {
  /** Per-stream script; each opened stream runs its own copy. */
  utterances?: FakeUtterance[];
  /** Events emitted on every `flush()` (e.g. a final with speechFinal). */
  onFlush?: SttEvent[];
  /** When set, `open()` rejects with it (e.g. to test fallback). */
  openError?: ProviderError;
  /** The streams declare `finalizesOnly` (flush() only asks for the words, as Deepgram's Finalize). */
  finalizesOnly?: boolean;
}

export class FakeSttStream implements SttStream {
  private readonly queue = new AsyncQueue<SttEvent>();
  readonly events: AsyncIterable<SttEvent> = this.queue;
  /** Frames pushed so far. */
  frames = 0;
  /** Samples (8 kHz) pushed so far. */
  samples = 0;
  flushes = 0;
  /** SttStream.finalizesOnly: FakeSttOptions.finalizesOnly. */
  readonly finalizesOnly: boolean;
  ended = false;
  closed = false;
  /** Every `expect()` call, in order (what the dialogue told the recogniser). */
  readonly expectations: (TurnExpectation | undefined)[] = [];
  private readonly pending: FakeUtterance[];

  expect(e: TurnExpectation | undefined): void {
    this.expectations.push(e);
  }

  constructor(
    readonly opts: SttOpenOptions,
    private readonly o: FakeSttOptions,
  ) {
    this.pending = [...(o.utterances ?? [])].sort((a, b) => a.afterFrames - b.afterFrames);
    this.finalizesOnly = o.finalizesOnly === true;
    opts.signal.addEventListener("abort", () => this.close(), { once: true });
  }

  push(frame: AudioFrame): void {
    if (this.closed || this.ended) return;
    this.frames++;
    this.samples += frame.pcm.length;
    while (this.pending.length && this.pending[0]!.afterFrames <= this.frames) for (const e of this.pending.shift()!.events) this.emit(e);
  }

  flush(): void {
    if (this.closed || this.ended) return;
    this.flushes++;
    for (const e of this.o.onFlush ?? []) this.emit(e);
  }

  async end(): Promise<void> {
    this.ended = true;
    this.queue.close();
  }

  close(): void {
    this.closed = true;
    this.queue.close();
  }

  /** Emits an event now ("when told"). An error event also ends the stream, as the contract says. */
  emit(event: SttEvent): void {
    this.queue.push(event);
    if (event.type === "error") this.queue.close();
  }
}

export class FakeStt implements SttProvider {
  readonly name: string;
  /** Every stream opened, in order. */
  readonly streams: FakeSttStream[] = [];

  constructor(
    private readonly o: FakeSttOptions = {},
    name = "fake-stt",
  ) {
    this.name = name;
  }

  async open(opts: SttOpenOptions): Promise<FakeSttStream> {
    if (this.o.openError) throw this.o.openError;
    const s = new FakeSttStream(opts, this.o);
    this.streams.push(s);
    return s;
  }
}
