/**
 * Fixed text the agent says outside any reply — idle prompts, goodbyes, the apology: one TTS context
 * into the audio output (awaiting its back-pressure), then `flush()`; recorded once all of it is queued.
 * A prompt falls back to the offline voice when the serving TTS fails; nothing here throws.
 *
 * A prompt due at a known time (the idle prompt) can be rendered ahead with `prepare()` and handed to
 * `say()`, so it plays when it is due instead of one synthesis later (flite in a worker on a busy
 * machine, a Cartesia round trip: 0.1–1 s, measured as idle prompts 3.5–4.3 s apart with
 * IDLE_PROMPT_S=3 in tests/e2e/turn-scenarios.test.ts).
 */
import type { AudioOutput } from "../media/audio-output";
import type { TtsProvider, TtsStream } from "../providers/types";
import type { Logger } from "../util/log";
import { describeError } from "./provider-failures";
import type { StageProviders } from "./stage-providers";

export interface FixedSpeechDeps {
  output: AudioOutput;
  /** The call's signal. */
  signal: AbortSignal;
  callId: string;
  log: Logger;
  providers: StageProviders;
  /** The call went on hold: stop queuing. */
  stopIf: () => boolean;
  /**
   * All of `text` was queued (record it). `tts` names the provider that spoke it when that is not the
   * call's serving TTS (`providers.tts`): the offline voice saying the apology or a prompt the serving
   * TTS failed on, as "<name> (fallback)"; undefined when the serving TTS spoke it.
   */
  onSaid: (text: string, tts?: string) => void;
}

/** Fixed text being rendered ahead of time by the serving TTS (FixedSpeech.prepare). */
export interface PreparedSpeech {
  readonly text: string;
  /** Stops the rendering (when it will not be said). Idempotent. */
  cancel(): void;
}

class Prepared implements PreparedSpeech {
  /** PCM16 8000 Hz chunks rendered so far. */
  readonly chunks: Int16Array[] = [];
  finished = false;
  failed = false;
  private wake: (() => void) | undefined;

  constructor(
    readonly text: string,
    private readonly stream: TtsStream,
  ) {
    void this.collect();
  }

  cancel(): void {
    this.stream.cancel();
  }

  /** Resolves when a chunk arrives or the rendering ends. */
  next(): Promise<void> {
    if (this.finished) return Promise.resolve();
    return new Promise((resolve) => (this.wake = resolve));
  }

  private async collect(): Promise<void> {
    try {
      for await (const pcm of this.stream.audio) {
        this.chunks.push(pcm);
        this.wake?.();
      }
    } catch {
      this.failed = true;
    }
    this.finished = true;
    this.wake?.();
  }
}

export class FixedSpeech {
  constructor(private readonly d: FixedSpeechDeps) {}

  /**
   * Starts rendering `text` with the serving TTS now, into memory; `say(text, prepared)` plays it.
   * Nothing is queued on the output. Never throws (a failed rendering makes `say` synthesise again).
   */
  prepare(text: string): PreparedSpeech {
    try {
      const tts = this.d.providers.tts.open({ signal: this.d.signal, callId: this.d.callId });
      tts.pushText(text);
      tts.end();
      return new Prepared(text, tts);
    } catch {
      return { text, cancel() {} }; // not a Prepared: `say` synthesises as usual
    }
  }

  /**
   * A prompt or goodbye: the audio of `prepared` when it is this text and its rendering did not fail,
   * else the serving TTS, else the offline one.
   */
  async say(text: string, prepared?: PreparedSpeech | null): Promise<void> {
    if (prepared instanceof Prepared && prepared.text === text) {
      const played = await this.playPrepared(prepared);
      if (played !== "failed") {
        if (played === "done") this.d.onSaid(text);
        return;
      }
    } else prepared?.cancel();
    await this.speak(text, this.d.providers.tts)
      .catch(() => this.speak(text, this.d.providers.safeTts))
      .catch((err) => this.d.log.error({ callId: this.d.callId, err: describeError(err) }, "prompt failed"));
  }

  /** The apology after a failed reply: the offline voice when there is one (the serving TTS may be what failed). */
  async apology(text: string): Promise<void> {
    await this.speak(text, this.d.providers.safeTts).catch((err) =>
      this.d.log.error({ callId: this.d.callId, err: describeError(err) }, "apology failed"),
    );
  }

  /** Queues the prepared audio as it comes (usually all there already), then `flush()`. */
  private async playPrepared(p: Prepared): Promise<"done" | "stopped" | "failed"> {
    let i = 0;
    for (;;) {
      if (this.d.signal.aborted || this.d.stopIf()) {
        p.cancel();
        return "stopped";
      }
      if (i < p.chunks.length) {
        await this.d.output.captureFrame(p.chunks[i++]!);
        continue;
      }
      if (p.failed) return "failed"; // said in full by the fallback (as when playFixedText throws midway)
      if (p.finished) break;
      await p.next();
    }
    this.d.output.flush();
    return "done";
  }

  private async speak(text: string, provider: TtsProvider): Promise<void> {
    // Which provider spoke is decided before playing: the serving one may switch meanwhile.
    const other = provider === this.d.providers.tts ? undefined : `${provider.name} (fallback)`;
    if (await playFixedText(text, provider, this.d.output, this.d.signal, this.d.callId, this.d.stopIf)) this.d.onSaid(text, other);
  }
}

/**
 * Plays fixed text (prompts, goodbyes, the apology) outside any reply: one TTS context into the output,
 * awaiting its back-pressure, then `flush()`. Resolves true when all of it was queued, false when
 * `signal` fired or `stopIf()` became true (call on hold) first. Throws what the TTS throws.
 */
export async function playFixedText(
  text: string,
  provider: TtsProvider,
  output: AudioOutput,
  signal: AbortSignal,
  callId: string,
  stopIf: () => boolean,
): Promise<boolean> {
  const tts = provider.open({ signal, callId });
  tts.pushText(text);
  tts.end();
  for await (const pcm of tts.audio) {
    if (signal.aborted || stopIf()) {
      tts.cancel();
      return false;
    }
    await output.captureFrame(pcm);
  }
  output.flush();
  return true;
}
