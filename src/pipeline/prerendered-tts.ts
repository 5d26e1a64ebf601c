/**
 * The outbound opening rendered while the agent waits for the callee's "Hello?" (outbound-answer.ts),
 * so it starts as soon as the wait is over instead of one synthesis later.
 *
 * `PrerenderedTts.render` wraps the serving TTS: it opens one context for `text` at once and collects
 * its audio in memory. The first context a reply opens through it replays that audio when the reply's
 * text turns out to be exactly `text` (whitespace aside); any other text — or a rendering that failed
 * before it produced audio — goes to the inner TTS as usual. Later contexts always go to the inner TTS.
 * The replaying context waits for the reply's `end()` before deciding (the opening arrives in one chunk,
 * so this costs nothing there).
 */
import type { TtsProvider, TtsStream } from "../providers/types";
import { SentenceSplitter } from "./sentence-splitter";

const norm = (s: string) => s.replace(/\s+/g, " ").trim();

export class PrerenderedTts implements TtsProvider {
  readonly name: string;
  private readonly chunks: Int16Array[] = [];
  private finished = false;
  private failed = false;
  /** What the rendering threw. */
  private error: unknown;
  private wake: (() => void) | null = null;
  private ahead: TtsStream | null = null;
  private used = false;

  private constructor(
    readonly inner: TtsProvider,
    readonly text: string,
  ) {
    this.name = inner.name;
  }

  /** Starts rendering `text` on `inner` now; `signal` ends it (the call's end). Never throws. */
  static render(inner: TtsProvider, text: string, opts: { signal: AbortSignal; callId: string }): PrerenderedTts {
    const p = new PrerenderedTts(inner, text);
    try {
      p.ahead = inner.open(opts);
      // Pushed in the chunks a reply pushes (speech-handle.ts), so the audio is the one the reply would
      // get (a TTS may render one long push differently from sentence by sentence).
      const splitter = new SentenceSplitter();
      for (const chunk of [...splitter.push(text), ...splitter.flush()]) p.ahead.pushText(chunk);
      p.ahead.end();
      void p.collect(p.ahead);
    } catch (err) {
      p.failed = true;
      p.error = err;
      p.finished = true;
    }
    return p;
  }

  /** Samples rendered so far (8 kHz). */
  get renderedSamples(): number {
    let n = 0;
    for (const c of this.chunks) n += c.length;
    return n;
  }

  /** The rendering is no longer wanted (a machine answered): stop it. */
  discard(): void {
    this.used = true;
    this.ahead?.cancel();
  }

  open(opts: { signal: AbortSignal; callId: string }): TtsStream {
    if (this.used) return this.inner.open(opts);
    this.used = true;
    return this.replay(opts);
  }

  closeCall(callId: string): void {
    this.inner.closeCall?.(callId);
  }

  private async collect(s: TtsStream): Promise<void> {
    try {
      for await (const pcm of s.audio) {
        this.chunks.push(pcm);
        this.wakeUp();
      }
    } catch (err) {
      this.failed = true;
      this.error = err;
    }
    this.finished = true;
    this.wakeUp();
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private next(): Promise<void> {
    return new Promise((r) => (this.wake = r));
  }

  /** A context that replays the rendering if its text is `text`, else synthesises live. */
  private replay(opts: { signal: AbortSignal; callId: string }): TtsStream {
    const pushed: string[] = [];
    let ended = false;
    let cancelled = false;
    let live: TtsStream | null = null;
    let endWake: (() => void) | null = null;
    const self = this;
    async function* audio(): AsyncGenerator<Int16Array> {
      while (!ended && !cancelled) await new Promise<void>((r) => (endWake = r));
      if (cancelled) return;
      if (norm(pushed.join(" ")) === norm(self.text) && !(self.failed && self.chunks.length === 0)) {
        for (let i = 0; ; ) {
          if (cancelled || opts.signal.aborted) return;
          if (i < self.chunks.length) {
            yield self.chunks[i++]!;
            continue;
          }
          if (self.failed) throw self.error; // part of it played: the reply fails as a live one would
          if (self.finished) return;
          await self.next();
        }
      }
      self.ahead?.cancel();
      live = self.inner.open(opts);
      for (const t of pushed) live.pushText(t);
      live.end();
      yield* live.audio;
    }
    return {
      pushText: (t) => void pushed.push(t),
      end: () => {
        ended = true;
        endWake?.();
      },
      cancel: () => {
        cancelled = true;
        endWake?.();
        live?.cancel();
        self.wakeUp();
      },
      audio: audio(),
    };
  }
}
