/**
 * FakeTts: a TtsProvider whose "speech" is a deterministic tone, so tests can predict every sample.
 * Each pushed text chunk becomes `FakeTts.pcmFor(text)`: 10 ms (80 samples at 8 kHz) per character
 * (`msPerChar` changes the rate),
 * a sine at 300 + (hash(text) mod 1000) Hz, amplitude 8000. An optional delay (on an injected Clock)
 * precedes each chunk's audio. Records every text pushed and every cancel.
 */
import { AsyncQueue } from "../../util/async-queue.ts";
import { SystemClock, type Clock } from "../../util/clock.ts";
import type { TtsProvider, TtsStream } from "../types.ts";
import { clockSleep } from "./sleep.ts";

export interface FakeTtsOptions {
  /** Delay before each chunk's audio (ms). Default 0. */
  delayMs?: number;
  /** Audio per character of text (ms, a multiple of 0.125). Default 10. */
  msPerChar?: number;
  clock?: Clock;
}

/** What one `open()` saw. */
export interface FakeTtsContext {
  callId: string;
  texts: string[];
  ended: boolean;
  cancelled: boolean;
}

export class FakeTts implements TtsProvider {
  readonly name: string;
  /** One entry per `open()`. */
  readonly contexts: FakeTtsContext[] = [];
  private readonly clock: Clock;

  constructor(
    private readonly o: FakeTtsOptions = {},
    name = "fake-tts",
  ) {
    this.name = name;
    this.clock = o.clock ?? new SystemClock();
  }

  /** All texts pushed to any context, in order. */
  get texts(): string[] {
    return this.contexts.flatMap((c) => c.texts);
  }

  /** Number of contexts cancelled. */
  get cancels(): number {
    return this.contexts.filter((c) => c.cancelled).length;
  }

  /** The 8 kHz PCM a context emits for `text`. */
  static pcmFor(text: string, msPerChar = 10): Int16Array {
    let h = 0;
    for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) >>> 0;
    const hz = 300 + (h % 1000);
    const out = new Int16Array(Math.round(text.length * msPerChar * 8));
    for (let i = 0; i < out.length; i++) out[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / 8000));
    return out;
  }

  open(opts: { signal: AbortSignal; callId: string }): TtsStream {
    const ctx: FakeTtsContext = { callId: opts.callId, texts: [], ended: false, cancelled: false };
    this.contexts.push(ctx);
    const out = new AsyncQueue<Int16Array>();
    const todo: string[] = [];
    let wake: (() => void) | null = null;
    const poke = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    const stop = new AbortController();
    const cancel = () => {
      if (ctx.cancelled) return;
      ctx.cancelled = true;
      stop.abort();
      out.close();
      poke();
    };
    opts.signal.addEventListener("abort", cancel, { once: true });
    const run = async () => {
      for (;;) {
        if (ctx.cancelled) return;
        const t = todo.shift();
        if (t === undefined) {
          if (ctx.ended) return out.close();
          await new Promise<void>((r) => (wake = r));
          continue;
        }
        try {
          await clockSleep(this.clock, this.o.delayMs ?? 0, stop.signal, this.name, "tts");
        } catch {
          return; // cancelled during the delay
        }
        if (!ctx.cancelled) out.push(FakeTts.pcmFor(t, this.o.msPerChar));
      }
    };
    void run();
    return {
      pushText(text: string) {
        if (ctx.cancelled || ctx.ended) return;
        ctx.texts.push(text);
        todo.push(text);
        poke();
      },
      end() {
        ctx.ended = true;
        poke();
      },
      cancel,
      audio: out,
    };
  }
}
