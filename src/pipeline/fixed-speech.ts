/**
 * Fixed text the agent says outside any reply — idle prompts, goodbyes, the apology: one TTS context
 * into the audio output (awaiting its back-pressure), then `flush()`; recorded once all of it is queued.
 * A prompt falls back to the offline voice when the serving TTS fails; nothing here throws.
 */
import type { AudioOutput } from "../media/audio-output";
import type { TtsProvider } from "../providers/types";
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
  /** All of `text` was queued (record it). */
  onSaid: (text: string) => void;
}

export class FixedSpeech {
  constructor(private readonly d: FixedSpeechDeps) {}

  /** A prompt or goodbye: the serving TTS, else the offline one. */
  async say(text: string): Promise<void> {
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

  private async speak(text: string, provider: TtsProvider): Promise<void> {
    if (await playFixedText(text, provider, this.d.output, this.d.signal, this.d.callId, this.d.stopIf)) this.d.onSaid(text);
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
