/**
 * The providers serving one call's LLM and TTS: the configured ones until a failure at call start
 * switches a stage to its offline fallback for the rest of the call. Each switch is logged and named in
 * the call record (through `onSwitch`), so the record says which provider actually served each stage.
 */
import type { LlmProvider, TtsProvider } from "../providers/types";

export class StageProviders {
  llm: LlmProvider;
  tts: TtsProvider;

  constructor(
    configured: { llm: LlmProvider; tts: TtsProvider },
    private readonly fallback: { llm?: LlmProvider; tts?: TtsProvider },
    private readonly onSwitch: (stage: "llm" | "tts", name: string) => void,
  ) {
    this.llm = configured.llm;
    this.tts = configured.tts;
  }

  /** The TTS for fixed text that must be heard (the apology): the offline one when there is one. */
  get safeTts(): TtsProvider {
    return this.fallback.tts ?? this.tts;
  }

  /** Switches `stage` to its fallback for the rest of the call. False when there is none (or it is in use). */
  useFallback(stage: "stt" | "llm" | "tts"): boolean {
    if (stage === "stt") return false; // the STT input switches itself (src/pipeline/stt-input.ts)
    const next = this.fallback[stage];
    if (!next || next === this[stage]) return false;
    if (stage === "llm") this.llm = next as LlmProvider;
    else this.tts = next as TtsProvider;
    this.onSwitch(stage, next.name);
    return true;
  }
}
